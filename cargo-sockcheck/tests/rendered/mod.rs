//! Markdown rendered to HTML as GitHub renders it (CommonMark with GitHub's
//! extensions: tables, autolinks, strikethrough, raw HTML), so that tests
//! see what a crafted name turns into, instead of guessing from the text.

#![allow(dead_code)] // each test file uses its own part of this

/// `markdown` as HTML, with GitHub's extensions and raw HTML let through
/// (GitHub sanitises raw HTML but keeps `<img>`, `<a>`, `<details>`...).
pub fn html(markdown: &str) -> String {
    let mut options = comrak::Options::default();
    options.extension.table = true;
    options.extension.autolink = true;
    options.extension.strikethrough = true;
    options.extension.tasklist = true;
    options.render.r#unsafe = true;
    comrak::markdown_to_html(markdown, &options)
}

/// The elements of the rendered `markdown`, in order, as `<name` or
/// `</name` with an `<a>`'s or `<img>`'s target: its shape, without text.
/// Two renderings whose text differs only in names have the same shape;
/// a name that opens a heading, a link, an image or any HTML changes it.
pub fn shape(markdown: &str) -> Vec<String> {
    let html = html(markdown);
    let mut tags = Vec::new();
    let mut rest = html.as_str();
    while let Some(at) = rest.find('<') {
        rest = &rest[at + 1..];
        let end = rest.find('>').unwrap_or(rest.len());
        let tag = &rest[..end];
        let name_end = tag
            .find(|c: char| c.is_whitespace() || c == '/' && !tag.starts_with('/'))
            .unwrap_or(tag.len());
        let mut shown = format!("<{}", &tag[..name_end]);
        for attribute in ["href=", "src="] {
            if let Some(at) = tag.find(attribute) {
                shown.push(' ');
                shown.push_str(tag[at..].split_whitespace().next().unwrap_or(""));
            }
        }
        tags.push(shown);
        rest = &rest[end..];
    }
    tags
}

/// The `@name` mentions GitHub would make of the rendered `markdown`: an
/// `@` then a letter or digit, in text outside code (GitHub does not
/// mention in code spans and blocks), after no letter or digit.
pub fn mentions(markdown: &str) -> Vec<String> {
    let html = html(markdown);
    let mut text = String::new();
    let mut in_code = 0usize;
    let mut rest = html.as_str();
    while !rest.is_empty() {
        match rest.find('<') {
            Some(at) => {
                if in_code == 0 {
                    text.push_str(&rest[..at]);
                }
                let end = rest[at..].find('>').map_or(rest.len(), |e| at + e + 1);
                let tag = &rest[at..end];
                if tag.starts_with("<code") || tag.starts_with("<pre") {
                    in_code += 1;
                } else if tag.starts_with("</code") || tag.starts_with("</pre") {
                    in_code = in_code.saturating_sub(1);
                }
                text.push(' ');
                rest = &rest[end..];
            }
            None => {
                if in_code == 0 {
                    text.push_str(rest);
                }
                rest = "";
            }
        }
    }
    let text = text.replace("&amp;", "&").replace("&#64;", "@");
    let chars: Vec<char> = text.chars().collect();
    let mut found = Vec::new();
    for (i, c) in chars.iter().enumerate() {
        let before_ok = i == 0 || !chars[i - 1].is_alphanumeric();
        if *c == '@' && before_ok && chars.get(i + 1).is_some_and(|n| n.is_ascii_alphanumeric()) {
            let name: String = chars[i..]
                .iter()
                .take_while(|c| **c == '@' || c.is_ascii_alphanumeric() || **c == '-')
                .collect();
            found.push(name);
        }
    }
    found
}
