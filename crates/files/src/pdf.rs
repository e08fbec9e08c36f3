//! A plain PDF of a report's text (title, byline, headed sections of paragraphs), typeset in
//! the PDF's standard Helvetica on A4 pages: what the demo attaches to its seed paper, and
//! what tests upload as a real PDF with known text. Written with `lopdf`, the parser the text
//! reader uses, so no second PDF crate comes in.

use lopdf::content::{Content, Operation};
use lopdf::{Document, Object, Stream, StringFormat, dictionary};

/// A report to typeset.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Its title, on the first page.
    pub title: String,
    /// Who wrote it, under the title.
    pub byline: String,
    /// Its sections: a heading and its paragraphs.
    pub sections: Vec<(String, Vec<String>)>,
}

/// The PDF could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    /// A page's content could not be encoded.
    #[error("writing the PDF: {0}")]
    Pdf(#[from] lopdf::Error),
    /// The bytes could not be written out.
    #[error("writing the PDF: {0}")]
    Io(#[from] std::io::Error),
}

/// A4, in points.
const PAGE: (f32, f32) = (595.0, 842.0);
const MARGIN: f32 = 72.0;
const BODY_SIZE: f32 = 10.5;
const LEADING: f32 = 15.0;
/// Characters per line of body text: Helvetica averages about half an em a character, which
/// keeps the widest lines inside the margins.
const LINE_CHARS: usize = 84;

/// One typeset line: its font (`F1` regular, `F2` bold), size and text.
struct Line {
    font: &'static str,
    size: f32,
    text: String,
}

impl Report {
    /// The report as PDF bytes.
    pub fn render(&self) -> Result<Vec<u8>, PdfError> {
        let lines = self.lines();
        let per_page = ((PAGE.1 - 2.0 * MARGIN) / LEADING) as usize;
        let mut doc = Document::with_version("1.7");
        let pages_id = doc.new_object_id();
        let regular = doc.add_object(font("Helvetica"));
        let bold = doc.add_object(font("Helvetica-Bold"));
        let resources = doc.add_object(dictionary! {
            "Font" => dictionary! { "F1" => regular, "F2" => bold },
        });
        let mut kids = Vec::new();
        for chunk in lines.chunks(per_page.max(1)) {
            let content = Content {
                operations: page_operations(chunk),
            };
            let stream = doc.add_object(Stream::new(dictionary! {}, content.encode()?));
            let page = doc.add_object(dictionary! {
                "Type" => "Page",
                "Parent" => pages_id,
                "Contents" => stream,
            });
            kids.push(Object::Reference(page));
        }
        let count = i64::try_from(kids.len()).unwrap_or(i64::MAX);
        doc.objects.insert(
            pages_id,
            Object::Dictionary(dictionary! {
                "Type" => "Pages",
                "Kids" => kids,
                "Count" => count,
                "Resources" => resources,
                "MediaBox" => vec![0.into(), 0.into(), PAGE.0.into(), PAGE.1.into()],
            }),
        );
        let info = doc.add_object(dictionary! {
            "Title" => Object::String(win_ansi(&self.title), StringFormat::Literal),
            "Author" => Object::String(win_ansi(&self.byline), StringFormat::Literal),
            "Producer" => Object::string_literal("Imprint"),
        });
        let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
        doc.trailer.set("Root", catalog);
        doc.trailer.set("Info", info);
        doc.compress();
        let mut out = Vec::new();
        doc.save_to(&mut out)?;
        Ok(out)
    }

    /// Every line in reading order, wrapped, with blank lines between paragraphs.
    fn lines(&self) -> Vec<Line> {
        let mut lines = Vec::new();
        let mut push = |font, size, text: &str| {
            for piece in wrap(text, (LINE_CHARS as f32 * BODY_SIZE / size) as usize) {
                lines.push(Line {
                    font,
                    size,
                    text: piece,
                });
            }
        };
        push("F2", 18.0, &self.title);
        push("F1", BODY_SIZE, &self.byline);
        for (heading, paragraphs) in &self.sections {
            push("F1", BODY_SIZE, "");
            push("F2", 13.0, heading);
            for paragraph in paragraphs {
                push("F1", BODY_SIZE, "");
                push("F1", BODY_SIZE, paragraph);
            }
        }
        lines
    }
}

/// A standard Type 1 font every PDF reader has, in the Windows Latin 1 encoding.
fn font(name: &str) -> lopdf::Dictionary {
    dictionary! {
        "Type" => "Font",
        "Subtype" => "Type1",
        "BaseFont" => name.to_owned(),
        "Encoding" => "WinAnsiEncoding",
    }
}

/// The operators that set `lines` on one page, from its top margin down.
fn page_operations(lines: &[Line]) -> Vec<Operation> {
    let mut ops = vec![
        Operation::new("BT", vec![]),
        Operation::new("TL", vec![LEADING.into()]),
        Operation::new("Td", vec![MARGIN.into(), (PAGE.1 - MARGIN).into()]),
    ];
    for line in lines {
        ops.push(Operation::new(
            "Tf",
            vec![line.font.into(), line.size.into()],
        ));
        ops.push(Operation::new(
            "Tj",
            vec![Object::String(win_ansi(&line.text), StringFormat::Literal)],
        ));
        ops.push(Operation::new("T*", vec![]));
    }
    ops.push(Operation::new("ET", vec![]));
    ops
}

/// `text` broken at spaces into lines of at most `width` characters (a longer word alone on
/// its line); one empty line for empty text.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// `text` in the Windows Latin 1 encoding the fonts use; what it cannot write becomes `?`.
fn win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            ' '..='~' => c as u8,
            '\u{a0}'..='\u{ff}' => c as u32 as u8,
            '€' => 0x80,
            '…' => 0x85,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '•' => 0x95,
            '–' => 0x96,
            '—' => 0x97,
            _ => b'?',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::extract_pdf;
    use imprint_domain::file::TextExtraction;

    #[test]
    fn wraps_at_spaces() {
        assert_eq!(wrap("a bb ccc", 4), vec!["a bb", "ccc"]);
        assert_eq!(wrap("", 4), vec![""]);
        assert_eq!(wrap("toolongword x", 4), vec!["toolongword", "x"]);
    }

    #[test]
    fn what_is_written_is_read_back() {
        let paragraph = "Nevertheless, there exists a willingness on both sides to avoid the lows of the 1990s, a “right sized” relationship – in Quaid-e-Azam University’s words.";
        let report = Report {
            title: "A Rethinking of US-Pakistan Relations".to_owned(),
            byline: "Hamza Ijaz, Imran Khan".to_owned(),
            sections: vec![("About the Paper".to_owned(), vec![paragraph.repeat(40)])],
        };
        let bytes = report.render().unwrap();
        assert!(bytes.starts_with(b"%PDF-1.7"));
        let text = extract_pdf(&bytes);
        let TextExtraction::Extracted { pages, characters } = text.extraction else {
            panic!("{text:?}");
        };
        assert!(pages >= 2, "{pages} pages");
        assert!(characters > 5000);
        let words = text.text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            words.contains("A Rethinking of US-Pakistan Relations"),
            "{words}"
        );
        assert!(
            words.contains("“right sized” relationship – in Quaid-e-Azam University’s"),
            "{words}"
        );
    }
}
