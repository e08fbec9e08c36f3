//! Citations of a published paper for reference managers: BibTeX, RIS and CSL-JSON.

use imprint_proto::authors::Author;
use imprint_proto::papers::{Paper, PublicationType};

use super::json::{Site, byline, rfc3339};

/// A citation format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    /// BibTeX (`@techreport{…}`).
    Bibtex,
    /// RIS (`TY  - RPRT`).
    Ris,
    /// CSL-JSON, as citeproc and Zotero read it.
    CslJson,
}

impl Format {
    /// From the `format` parameter.
    pub(super) fn parse(s: &str) -> Option<Self> {
        match s {
            "bibtex" => Some(Self::Bibtex),
            "ris" => Some(Self::Ris),
            "csl-json" => Some(Self::CslJson),
            _ => None,
        }
    }

    /// Its media type.
    pub(super) fn content_type(self) -> &'static str {
        match self {
            Self::Bibtex => "application/x-bibtex; charset=utf-8",
            Self::Ris => "application/x-research-info-systems; charset=utf-8",
            Self::CslJson => "application/vnd.citationstyles.csl+json",
        }
    }
}

/// Whether a credited name is an organisation ("Senior Study Group on Counterterrorism in
/// Afghanistan and Pakistan"): more than four words. Organisations are cited whole.
fn is_organisation(name: &str) -> bool {
    name.split_whitespace().count() > 4
}

/// "Family, Given" from a display name: the last word is the family name, unless the name
/// has a comma already. An organisation is all family name.
fn family_given(name: &str) -> (String, String) {
    if is_organisation(name) {
        return (name.trim().to_owned(), String::new());
    }
    if let Some((family, given)) = name.split_once(',') {
        return (family.trim().to_owned(), given.trim().to_owned());
    }
    match name.trim().rsplit_once(' ') {
        Some((given, family)) => (family.to_owned(), given.trim().to_owned()),
        None => (name.trim().to_owned(), String::new()),
    }
}

fn year_month_day(p: &Paper) -> Option<(i32, u32, u32)> {
    use chrono::Datelike;
    let t = p.publish_time.as_ref()?;
    let d = chrono::DateTime::from_timestamp(t.seconds, 0)?;
    Some((d.year(), d.month(), d.day()))
}

/// BibTeX escapes: braces balanced, specials escaped, so any title stays one field.
fn bib(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\textbackslash{}"),
            '{' | '}' | '&' | '%' | '$' | '#' | '_' => {
                out.push('\\');
                out.push(c);
            }
            '~' => out.push_str("\\textasciitilde{}"),
            '^' => out.push_str("\\textasciicircum{}"),
            '\n' | '\r' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

/// One RIS line's value: no line breaks.
fn ris(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
}

/// The citation of `p` in `format`.
pub(super) fn render(format: Format, p: &Paper, authors: &[Author], site: &Site) -> String {
    let names: Vec<(String, String)> = byline(p, authors).map(|a| family_given(&a.name)).collect();
    let date = year_month_day(p);
    let url = site.paper_url(&p.slug);
    let kind = p.publication_type();
    match format {
        Format::Bibtex => {
            let entry = match kind {
                PublicationType::JournalArticle | PublicationType::Article => "article",
                PublicationType::ConferencePaper => "inproceedings",
                PublicationType::Book => "book",
                PublicationType::Report
                | PublicationType::DiscussionPaper
                | PublicationType::PolicyBrief
                | PublicationType::WorkingPaper => "techreport",
                _ => "misc",
            };
            let key_family = names
                .first()
                .map(|(f, _)| {
                    f.chars()
                        .filter(char::is_ascii_alphanumeric)
                        .collect::<String>()
                })
                .filter(|f| !f.is_empty())
                .unwrap_or_else(|| "imprint".to_owned());
            let year = date.map(|(y, _, _)| y.to_string()).unwrap_or_default();
            let key = format!(
                "{}{year}{}",
                key_family.to_lowercase(),
                p.id.get(..8).unwrap_or("")
            );
            let authors = names
                .iter()
                .map(|(f, g)| {
                    if g.is_empty() {
                        // Braced: BibTeX takes an organisation's words as one name.
                        format!("{{{}}}", bib(f))
                    } else {
                        format!("{}, {}", bib(f), bib(g))
                    }
                })
                .collect::<Vec<_>>()
                .join(" and ");
            let mut fields = vec![
                ("title", format!("{{{}}}", bib(&p.title))),
                ("author", format!("{{{authors}}}")),
            ];
            if entry == "techreport" {
                fields.push(("institution", format!("{{{}}}", bib(&site.name))));
                fields.push(("type", format!("{{{}}}", bib(kind_label(kind)))));
            } else {
                fields.push(("publisher", format!("{{{}}}", bib(&site.name))));
            }
            if let Some((y, m, _)) = date {
                fields.push(("year", format!("{{{y}}}")));
                fields.push(("month", format!("{m}")));
            }
            fields.push(("url", format!("{{{url}}}")));
            if !p.summary.is_empty() {
                fields.push(("abstract", format!("{{{}}}", bib(&p.summary))));
            }
            if !p.topics.is_empty() {
                fields.push(("keywords", format!("{{{}}}", bib(&p.topics.join(", ")))));
            }
            let body = fields
                .iter()
                .map(|(k, v)| format!("  {k} = {v}"))
                .collect::<Vec<_>>()
                .join(",\n");
            format!("@{entry}{{{key},\n{body}\n}}\n")
        }
        Format::Ris => {
            let ty = match kind {
                PublicationType::JournalArticle | PublicationType::Article => "JOUR",
                PublicationType::ConferencePaper => "CONF",
                PublicationType::Book => "BOOK",
                PublicationType::Report
                | PublicationType::DiscussionPaper
                | PublicationType::PolicyBrief
                | PublicationType::WorkingPaper => "RPRT",
                _ => "GEN",
            };
            let mut lines = vec![format!("TY  - {ty}"), format!("TI  - {}", ris(&p.title))];
            for (f, g) in &names {
                lines.push(if g.is_empty() {
                    format!("AU  - {}", ris(f))
                } else {
                    format!("AU  - {}, {}", ris(f), ris(g))
                });
            }
            if let Some((y, m, d)) = date {
                lines.push(format!("PY  - {y}"));
                lines.push(format!("DA  - {y}/{m:02}/{d:02}"));
            }
            lines.push(format!("PB  - {}", ris(&site.name)));
            if !p.summary.is_empty() {
                lines.push(format!("AB  - {}", ris(&p.summary)));
            }
            for topic in &p.topics {
                lines.push(format!("KW  - {}", ris(topic)));
            }
            lines.push(format!("UR  - {url}"));
            lines.push("ER  - ".to_owned());
            lines.join("\r\n") + "\r\n"
        }
        Format::CslJson => {
            let csl_type = match kind {
                PublicationType::JournalArticle => "article-journal",
                PublicationType::Article => "article",
                PublicationType::ConferencePaper => "paper-conference",
                PublicationType::Book => "book",
                PublicationType::Preprint => "article",
                _ => "report",
            };
            let mut item = serde_json::json!({
                "id": p.id,
                "type": csl_type,
                "title": p.title,
                "author": names
                    .iter()
                    .map(|(f, g)| if g.is_empty() {
                        serde_json::json!({"literal": f})
                    } else {
                        serde_json::json!({"family": f, "given": g})
                    })
                    .collect::<Vec<_>>(),
                "publisher": site.name,
                "URL": url,
                "genre": kind_label(kind),
            });
            if let Some((y, m, d)) = date {
                item["issued"] = serde_json::json!({"date-parts": [[y, m, d]]});
            }
            if !p.summary.is_empty() {
                item["abstract"] = p.summary.clone().into();
            }
            if !p.topics.is_empty() {
                item["keyword"] = p.topics.join(", ").into();
            }
            if let Some(accessed) = rfc3339(p.update_time.as_ref()) {
                item["note"] = format!("Last updated {accessed}").into();
            }
            serde_json::Value::Array(vec![item]).to_string()
        }
    }
}

fn kind_label(kind: PublicationType) -> &'static str {
    imprint_proto::convert::publication_type_from_proto(kind.into())
        .ok()
        .flatten()
        .map_or("Publication", imprint_domain::PublicationType::label)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use prost_types::Timestamp;

    fn fixture() -> (Paper, Vec<Author>, Site) {
        let authors = vec![
            Author {
                id: "a1".into(),
                name: "Hamza Ijaz".into(),
                slug: "hamza-ijaz".into(),
                ..Author::default()
            },
            Author {
                id: "a2".into(),
                name: "Imran Khan".into(),
                slug: "imran-khan".into(),
                ..Author::default()
            },
        ];
        let paper = Paper {
            id: "0190a6c4-aaaa".into(),
            slug: "a-rethinking".into(),
            title: "A Rethinking of US-Pakistan Relations: 50% {new}".into(),
            summary: "As the United States and Pakistan approach 75 years…".into(),
            publication_type: PublicationType::DiscussionPaper.into(),
            topics: vec!["Global Policy".into()],
            author_ids: vec!["a2".into(), "a1".into()],
            publish_time: Some(Timestamp {
                seconds: 1_657_152_000,
                nanos: 0,
            }),
            ..Paper::default()
        };
        (
            paper,
            authors,
            Site {
                name: "USIP".into(),
                url: "https://www.usip.org".into(),
                api_url: "https://api.usip.org".into(),
                files: Default::default(),
            },
        )
    }

    #[test]
    fn bibtex_escapes_and_orders_the_byline() {
        let (p, a, s) = fixture();
        let out = render(Format::Bibtex, &p, &a, &s);
        assert!(out.starts_with("@techreport{khan20220190a6c4,"), "{out}");
        assert!(
            out.contains("author = {Khan, Imran and Ijaz, Hamza}"),
            "{out}"
        );
        assert!(
            out.contains("title = {A Rethinking of US-Pakistan Relations: 50\\% \\{new\\}}"),
            "{out}"
        );
        assert!(
            out.contains("institution = {USIP}") && out.contains("year = {2022}"),
            "{out}"
        );
        assert!(
            out.contains("url = {https://www.usip.org/publications/a-rethinking}"),
            "{out}"
        );
    }

    #[test]
    fn ris_and_csl_json() {
        let (p, a, s) = fixture();
        let out = render(Format::Ris, &p, &a, &s);
        assert!(out.starts_with("TY  - RPRT\r\n"), "{out}");
        assert!(
            out.contains("AU  - Khan, Imran\r\nAU  - Ijaz, Hamza\r\n"),
            "{out}"
        );
        assert!(
            out.contains("DA  - 2022/07/07") && out.ends_with("ER  - \r\n"),
            "{out}"
        );
        let csl: serde_json::Value =
            serde_json::from_str(&render(Format::CslJson, &p, &a, &s)).unwrap();
        assert_eq!(csl[0]["type"], "report");
        assert_eq!(csl[0]["author"][0]["family"], "Khan");
        assert_eq!(csl[0]["issued"]["date-parts"][0][0], 2022);
    }

    #[test]
    fn names_split_into_family_and_given() {
        assert_eq!(family_given("Imran Khan"), ("Khan".into(), "Imran".into()));
        assert_eq!(family_given("Khan, Imran"), ("Khan".into(), "Imran".into()));
        assert_eq!(family_given("Plato"), ("Plato".into(), String::new()));
        let group = "Senior Study Group on Counterterrorism in Afghanistan and Pakistan";
        assert_eq!(family_given(group), (group.into(), String::new()));
    }
}
