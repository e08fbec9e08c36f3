//! Publication metadata files (JSON Lines, gzip or plain), shaped like `shared/data`:
//! `id`, `title`, `abstract`, `authors`, `topics`, `date`, `pub_type`; and related-pairs files
//! (`query_id<TAB>related_id`, a header line, gzip or plain).

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};
use imprint_domain::PublicationType;
use serde::Deserialize;

/// One record as the file holds it.
#[derive(Debug, Clone, Deserialize)]
pub struct Record {
    /// The id in the source: kept as the paper's external id.
    pub id: String,
    /// Title.
    pub title: Option<String>,
    /// Abstract: the paper's summary.
    #[serde(rename = "abstract")]
    pub summary: Option<String>,
    /// Author names in byline order.
    #[serde(default)]
    pub authors: Vec<String>,
    /// Topics (arXiv categories, say).
    #[serde(default)]
    pub topics: Vec<String>,
    /// `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
    pub date: Option<String>,
    /// `preprint`, `journal-article`, `conference-paper`, …
    pub pub_type: Option<String>,
    /// The paper's full report: a local PDF, its path absolute or relative to the records
    /// file's directory, uploaded and attached as the report.
    pub file: Option<String>,
}

impl Record {
    /// The publication time the date stands for (the first day of its month or year, noon UTC).
    pub fn publish_time(&self) -> Option<DateTime<Utc>> {
        let date = self.date.as_deref()?.trim();
        let mut parts = date.splitn(3, '-');
        let year: i32 = parts.next()?.parse().ok()?;
        let month: u32 = parts.next().map_or(Some(1), |m| m.parse().ok())?;
        let day: u32 = parts.next().map_or(Some(1), |d| d.parse().ok())?;
        NaiveDate::from_ymd_opt(year, month, day)?
            .and_hms_opt(12, 0, 0)
            .map(|t| t.and_utc())
    }

    /// The publication type the source's `pub_type` maps to.
    pub fn publication_type(&self) -> PublicationType {
        match self.pub_type.as_deref().unwrap_or("") {
            "preprint" => PublicationType::Preprint,
            "journal-article" => PublicationType::JournalArticle,
            "report" => PublicationType::Report,
            "book" | "book-chapter" => PublicationType::Book,
            t if t.starts_with("conference")
                || t.starts_with("workshop")
                || t.starts_with("findings")
                || t.starts_with("demo")
                || t.starts_with("tutorial") =>
            {
                PublicationType::ConferencePaper
            }
            _ => PublicationType::Article,
        }
    }
}

/// A file that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct ReadError {
    /// The file.
    pub path: std::path::PathBuf,
    /// Why.
    pub source: std::io::Error,
}

impl ReadError {
    /// A failure reading `path`, for `map_err`.
    pub fn of(path: &Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |source| Self {
            path: path.to_owned(),
            source,
        }
    }
}

/// Why a line of a records file is not a record.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    /// The bytes could not be read (not UTF-8, or the file broke off).
    #[error("unreadable: {0}")]
    Unreadable(std::io::Error),
    /// Not a JSON record of the expected shape.
    #[error("not a record: {0}")]
    NotARecord(serde_json::Error),
}

/// Opens `path`, decompressing when it is gzip (by its magic bytes, whatever its name).
pub fn open(path: &Path) -> Result<Box<dyn BufRead>, ReadError> {
    let mut file = std::fs::File::open(path).map_err(ReadError::of(path))?;
    let mut magic = [0u8; 2];
    let n = file.read(&mut magic).map_err(ReadError::of(path))?;
    let file = std::fs::File::open(path).map_err(ReadError::of(path))?;
    if n == 2 && magic == [0x1f, 0x8b] {
        Ok(Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(
            file,
        ))))
    } else {
        Ok(Box::new(BufReader::new(file)))
    }
}

/// A line of a records file: the record, or why it cannot be one.
pub type Line = (usize, Result<Record, LineError>);

/// The records of `path`, each with its line number (from 1); unreadable lines are errors
/// that name the problem, and reading goes on.
pub fn records(path: &Path) -> Result<impl Iterator<Item = Line>, ReadError> {
    let reader = open(path)?;
    Ok(reader.lines().enumerate().filter_map(|(i, line)| {
        let n = i + 1;
        match line {
            Err(e) => Some((n, Err(LineError::Unreadable(e)))),
            Ok(l) if l.trim().is_empty() => None,
            Ok(l) => Some((
                n,
                serde_json::from_str::<Record>(&l).map_err(LineError::NotARecord),
            )),
        }
    }))
}

/// Related pairs: for each query id, the ids related to it.
pub fn related_pairs(path: &Path) -> Result<HashMap<String, HashSet<String>>, ReadError> {
    let mut out: HashMap<String, HashSet<String>> = HashMap::new();
    for (i, line) in open(path)?.lines().enumerate() {
        let line = line.map_err(ReadError::of(path))?;
        if i == 0 && line.starts_with("query_id") {
            continue;
        }
        let Some((q, r)) = line.trim_end().split_once('\t') else {
            continue;
        };
        if q != r {
            out.entry(q.to_owned()).or_default().insert(r.to_owned());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_types_map() {
        let r: Record = serde_json::from_str(
            r#"{"id":"x","title":"t","abstract":null,"authors":["A"],"date":"1984-02","pub_type":"workshop-paper"}"#,
        )
        .unwrap();
        assert_eq!(
            r.publish_time().unwrap().to_rfc3339(),
            "1984-02-01T12:00:00+00:00"
        );
        assert_eq!(r.publication_type(), PublicationType::ConferencePaper);
        let r: Record =
            serde_json::from_str(r#"{"id":"y","date":"2025-08-18","pub_type":"preprint"}"#)
                .unwrap();
        assert_eq!(
            r.publish_time().unwrap().to_rfc3339(),
            "2025-08-18T12:00:00+00:00"
        );
        assert_eq!(r.publication_type(), PublicationType::Preprint);
        let r: Record = serde_json::from_str(r#"{"id":"z","date":"soon"}"#).unwrap();
        assert!(r.publish_time().is_none());
    }
}
