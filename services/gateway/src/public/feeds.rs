//! Atom feeds of newly published papers, and the sitemap, for search engines and readers.

use imprint_proto::authors::Author;
use imprint_proto::papers::Paper;

use super::json::{Site, byline, rfc3339};

/// XML text and attribute escaping.
pub(super) fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            '\u{FFFE}' | '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// An Atom feed of `papers` (newest first), titled `title`, found at `self_url`.
pub(super) fn atom(
    title: &str,
    self_url: &str,
    papers: &[Paper],
    authors: &[Author],
    site: &Site,
) -> String {
    let updated = papers
        .iter()
        .filter_map(|p| rfc3339(p.update_time.as_ref().or(p.publish_time.as_ref())))
        .max()
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned());
    let mut out = String::with_capacity(1024 + papers.len() * 1024);
    out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n");
    out.push_str(&format!("  <title>{}</title>\n", xml(title)));
    out.push_str(&format!("  <id>{}</id>\n", xml(self_url)));
    out.push_str(&format!(
        "  <link rel=\"self\" type=\"application/atom+xml\" href=\"{}\"/>\n",
        xml(self_url)
    ));
    out.push_str(&format!(
        "  <link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n",
        xml(&site.url)
    ));
    out.push_str(&format!("  <updated>{updated}</updated>\n"));
    out.push_str(&format!(
        "  <author><name>{}</name></author>\n",
        xml(&site.name)
    ));
    for p in papers {
        let url = site.paper_url(&p.slug);
        let published = rfc3339(p.publish_time.as_ref()).unwrap_or_else(|| updated.clone());
        let changed = rfc3339(p.update_time.as_ref()).unwrap_or_else(|| published.clone());
        out.push_str("  <entry>\n");
        out.push_str(&format!("    <id>urn:uuid:{}</id>\n", xml(&p.id)));
        out.push_str(&format!("    <title>{}</title>\n", xml(&p.title)));
        out.push_str(&format!(
            "    <link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n",
            xml(&url)
        ));
        out.push_str(&format!("    <published>{published}</published>\n"));
        out.push_str(&format!(
            "    <updated>{}</updated>\n",
            changed.max(published.clone())
        ));
        for a in byline(p, authors) {
            out.push_str(&format!(
                "    <author><name>{}</name><uri>{}</uri></author>\n",
                xml(&a.name),
                xml(&site.author_url(&a.slug))
            ));
        }
        for topic in &p.topics {
            out.push_str(&format!("    <category term=\"{}\"/>\n", xml(topic)));
        }
        if !p.summary.is_empty() {
            out.push_str(&format!(
                "    <summary type=\"text\">{}</summary>\n",
                xml(&p.summary)
            ));
        }
        out.push_str("  </entry>\n");
    }
    out.push_str("</feed>\n");
    out
}

/// A sitemap of `papers` (at most 50,000, the protocol's limit per file).
pub(super) fn sitemap(papers: &[Paper], site: &Site) -> String {
    let mut out = String::with_capacity(128 + papers.len() * 160);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n");
    for p in papers {
        out.push_str(&format!(
            "  <url><loc>{}</loc>",
            xml(&site.paper_url(&p.slug))
        ));
        if let Some(changed) = rfc3339(p.update_time.as_ref().or(p.publish_time.as_ref())) {
            out.push_str(&format!("<lastmod>{changed}</lastmod>"));
        }
        out.push_str("</url>\n");
    }
    out.push_str("</urlset>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escapes_and_drops_what_xml_cannot_carry() {
        assert_eq!(xml("a<b & \"c\"\u{1}"), "a&lt;b &amp; &quot;c&quot;");
    }

    #[test]
    fn feed_and_sitemap_carry_each_paper() {
        let site = Site {
            name: "USIP & Co".into(),
            url: "https://example.org".into(),
            api_url: "https://api.example.org".into(),
            files: Default::default(),
        };
        let paper = Paper {
            id: "p1".into(),
            slug: "s<1>".into(),
            title: "Peace & War".into(),
            topics: vec!["Global Policy".into()],
            publish_time: Some(prost_types::Timestamp {
                seconds: 1_657_152_000,
                nanos: 0,
            }),
            ..Paper::default()
        };
        let feed = atom(
            "Latest",
            "https://example.org/feed.atom",
            std::slice::from_ref(&paper),
            &[],
            &site,
        );
        assert!(feed.contains("<title>Peace &amp; War</title>"), "{feed}");
        assert!(
            feed.contains("<updated>2022-07-07T00:00:00Z</updated>"),
            "{feed}"
        );
        assert!(
            feed.contains("<category term=\"Global Policy\"/>"),
            "{feed}"
        );
        assert!(feed.contains("<name>USIP &amp; Co</name>"), "{feed}");
        let map = sitemap(&[paper], &site);
        assert!(map.contains("<loc>https://example.org/publications/s&lt;1&gt;</loc><lastmod>2022-07-07T00:00:00Z</lastmod>"), "{map}");
    }
}
