//! A small tree over the XML that moto and AWS answer with, so a rule can change
//! one object of a response (the `<state>` of one NAT gateway `<item>`) and leave
//! the rest byte for byte. AWS query responses have no mixed content, so an
//! element holds either text or child elements.

/// One element; `text` is kept escaped exactly as received.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Element {
    pub name: String,
    /// everything between the name and `>`, e.g. ` xmlns="..."`
    attributes: String,
    pub text: String,
    pub children: Vec<Element>,
}

/// A parsed response: the `<?xml ...?>` declaration (if any) and the root.
#[derive(Debug)]
pub struct Document {
    prolog: String,
    pub root: Element,
}

impl Document {
    /// `None` when the body is not XML this parser understands; callers then
    /// leave the response untouched.
    pub fn parse(body: &str) -> Option<Document> {
        let mut rest = body.trim_start();
        let mut prolog = String::new();
        if rest.starts_with("<?") {
            let end = rest.find("?>")? + 2;
            prolog = rest[..end].to_string();
            rest = rest[end..].trim_start();
        }
        let (root, after) = parse_element(rest)?;
        after.trim().is_empty().then_some(Document { prolog, root })
    }

    pub fn render(&self) -> String {
        let mut out = self.prolog.clone();
        if !out.is_empty() {
            out.push('\n');
        }
        self.root.render_into(&mut out);
        out
    }
}

fn parse_element(input: &str) -> Option<(Element, &str)> {
    let input = input.strip_prefix('<')?;
    let open_end = input.find('>')?;
    let open = &input[..open_end];
    let self_closing = open.ends_with('/');
    let open = open.trim_end_matches('/');
    let name_end = open.find(|c: char| c.is_whitespace()).unwrap_or(open.len());
    let mut element = Element {
        name: open[..name_end].to_string(),
        attributes: open[name_end..].to_string(),
        ..Element::default()
    };
    let mut rest = &input[open_end + 1..];
    if self_closing {
        return Some((element, rest));
    }
    loop {
        let next = rest.find('<')?;
        let text = &rest[..next];
        rest = &rest[next..];
        if let Some(close) = rest.strip_prefix("</") {
            if element.children.is_empty() {
                element.text = text.to_string();
            }
            let end = close.find('>')?;
            if close[..end].trim() != element.name {
                return None;
            }
            return Some((element, &close[end + 1..]));
        }
        let (child, after) = parse_element(rest)?;
        element.children.push(child);
        rest = after;
    }
}

impl Element {
    fn render_into(&self, out: &mut String) {
        out.push('<');
        out.push_str(&self.name);
        out.push_str(&self.attributes);
        if self.text.is_empty() && self.children.is_empty() {
            out.push_str("/>");
            return;
        }
        out.push('>');
        out.push_str(&self.text);
        for child in &self.children {
            child.render_into(out);
        }
        out.push_str("</");
        out.push_str(&self.name);
        out.push('>');
    }

    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The text of the direct child `name`.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }

    /// The text at a path of direct children, e.g. `["Target", "Id"]`.
    pub fn path_text(&self, path: &[&str]) -> Option<&str> {
        let mut at = self;
        for name in path {
            at = at.child(name)?;
        }
        Some(at.text.as_str())
    }

    /// Sets the text at a path of direct children, creating missing ones.
    pub fn set_path(&mut self, path: &[&str], text: &str) {
        let mut at = self;
        for name in path {
            let index = match at.children.iter().position(|c| c.name == *name) {
                Some(i) => i,
                None => {
                    at.children.push(Element {
                        name: name.to_string(),
                        ..Element::default()
                    });
                    at.children.len() - 1
                }
            };
            at = &mut at.children[index];
        }
        at.children.clear();
        at.text = escape(text);
    }

    /// Sets the direct child `name` to a list of `member`s, as the Query
    /// APIs render a list of strings; an empty list removes it.
    pub fn set_members(&mut self, name: &str, values: &[String]) {
        self.children.retain(|c| c.name != name);
        if values.is_empty() {
            return;
        }
        let members = values.iter().map(|v| Element {
            name: "member".to_string(),
            text: escape(v),
            ..Element::default()
        });
        self.children.push(Element {
            name: name.to_string(),
            children: members.collect(),
            ..Element::default()
        });
    }

    /// Removes the direct children named `name`.
    pub fn remove_child(&mut self, name: &str) {
        self.children.retain(|c| c.name != name);
    }

    /// Every element (this one included) that has a direct child `key` whose
    /// text is `Some(value)`: the objects of a response, found by their identifier.
    pub fn for_each_with_child(&mut self, key: &str, f: &mut impl FnMut(&str, &mut Element)) {
        if let Some(id) = self.child_text(key).map(str::to_string) {
            f(&id, self);
        }
        for child in &mut self.children {
            child.for_each_with_child(key, f);
        }
    }

    /// Removes the objects of a list answer (the `item`s of the root's lists,
    /// not those nested in an object) for which `keep` is false.
    pub fn retain_listed(&mut self, keep: &mut impl FnMut(&Element) -> bool) {
        for list in &mut self.children {
            list.children
                .retain(|item| item.name != "item" || keep(item));
        }
    }

    /// Removes, from every list named `list` at any depth (`Instances` of each
    /// group of an answer), the members for which `keep` is false.
    pub fn retain_in_lists(&mut self, list: &str, keep: &mut impl FnMut(&Element) -> bool) {
        if self.name == list {
            self.children.retain(|member| keep(member));
        }
        for child in &mut self.children {
            child.retain_in_lists(list, keep);
        }
    }

    /// The texts of every descendant named `name`, in document order.
    pub fn texts(&self, name: &str) -> Vec<String> {
        let mut found = Vec::new();
        self.collect_texts(name, &mut found);
        found
    }

    fn collect_texts(&self, name: &str, found: &mut Vec<String>) {
        if self.name == name {
            found.push(self.text.clone());
        }
        for child in &self.children {
            child.collect_texts(name, found);
        }
    }

    /// The first descendant (or this element) named `name`.
    pub fn find(&self, name: &str) -> Option<&Element> {
        if self.name == name {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(name))
    }
}

/// Escapes text for an XML element body.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
