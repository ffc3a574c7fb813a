//! The registry documentation, rendered from the schemas: `docs/index.md` from
//! the provider block, `docs/resources/environment.md` from the resource and
//! `docs/data-sources/environment.md` from the data source.
//! The prose lives in `templates/` (the layout HashiCorp's tfplugindocs uses);
//! the lists of arguments and attributes and the examples are filled in here,
//! and `{{ schema_version }}` anywhere in a line becomes the schema's version,
//! so the pages can never disagree with the schema or the tested examples.
//! The `docs_are_current` test keeps the committed pages equal to the rendering.
//!
//! Template directives, each on a line of its own:
//! - `{{ arguments }}`: required then optional arguments, nested blocks after;
//! - `{{ attributes }}`: the read-only attributes;
//! - `{{ timeouts }}`: the `timeouts` block's limits;
//! - `{{ tffile "PATH" }}` / `{{ codefile "LANG" "PATH" }}`: a file of the repository in a code block.

use std::path::Path;

use tf_provider::schema::{Attribute, AttributeConstraint, Block, NestedBlock, Schema};

/// Every rendered page: the template it comes from and where it is written.
pub const PAGES: [(&str, &str); 3] = [
    ("templates/index.md.tmpl", "docs/index.md"),
    (
        "templates/resources/environment.md.tmpl",
        "docs/resources/environment.md",
    ),
    (
        "templates/data-sources/environment.md.tmpl",
        "docs/data-sources/environment.md",
    ),
];

/// The nested block documented in a section of its own rather than with the arguments.
const TIMEOUTS: &str = "timeouts";

/// Renders the page of `template` (a path in `PAGES`), reading files under `root`.
pub fn render_page(root: &Path, template: &str) -> Result<String, String> {
    let schema = if template.contains("data-sources/") {
        crate::environment::data_source::data_source_schema()
    } else if template.contains("resources/") {
        crate::environment::schema::environment_schema()
    } else {
        crate::provider::provider_schema()
    };
    let text = read(root, template)?;
    render(root, &text, &schema)
}

fn read(root: &Path, path: &str) -> Result<String, String> {
    std::fs::read_to_string(root.join(path)).map_err(|e| format!("cannot read {path}: {e}"))
}

fn render(root: &Path, template: &str, schema: &Schema) -> Result<String, String> {
    let template = template.replace("{{ schema_version }}", &schema.version.to_string());
    let mut out = String::new();
    for line in template.lines() {
        match directive(line) {
            Some(words) => out.push_str(&expand(root, &words, schema)?),
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    Ok(out)
}

/// The words of a `{{ ... }}` line, quotes removed.
fn directive(line: &str) -> Option<Vec<String>> {
    let inner = line.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    Some(
        inner
            .split_whitespace()
            .map(|w| w.trim_matches('"').to_string())
            .collect(),
    )
}

fn expand(root: &Path, words: &[String], schema: &Schema) -> Result<String, String> {
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["arguments"] => Ok(arguments(&schema.block)),
        ["attributes"] => Ok(attributes(&schema.block)),
        ["timeouts"] => match schema.block.blocks.get(TIMEOUTS) {
            Some(NestedBlock::Optional(block)) => Ok(list(block, |_| true)),
            _ => Err("the schema has no timeouts block".into()),
        },
        ["tffile", path] => Ok(fenced("terraform", &read(root, path)?)),
        ["codefile", language, path] => Ok(fenced(language, &read(root, path)?)),
        other => Err(format!("unknown template directive {other:?}")),
    }
}

fn fenced(language: &str, content: &str) -> String {
    format!("```{language}\n{}\n```\n", content.trim_end())
}

fn is_argument(attribute: &Attribute) -> bool {
    !matches!(attribute.constraint, AttributeConstraint::Computed)
}

fn sorted_names<T>(map: &std::collections::HashMap<String, T>) -> Vec<&String> {
    let mut names: Vec<&String> = map.keys().collect();
    names.sort();
    names
}

/// One bullet per attribute that `keep` selects: required ones first, then the rest, by name.
fn list(block: &Block, keep: impl Fn(&Attribute) -> bool) -> String {
    let names = sorted_names(&block.attributes);
    let required = |name: &&String| {
        matches!(
            block.attributes[*name].constraint,
            AttributeConstraint::Required
        )
    };
    let ordered = names
        .iter()
        .filter(|n| required(n))
        .chain(names.iter().filter(|n| !required(n)));
    let mut out = String::new();
    for name in ordered {
        let attribute = &block.attributes[*name];
        if keep(attribute) {
            out.push_str(&format!(
                "* `{name}` - {}{}\n",
                qualifier(name, attribute),
                attribute.description.content
            ));
        }
    }
    out
}

/// `(Required) `, `(Optional, Sensitive) `, `(Optional, Sensitive, Write-only) `,
/// or nothing for a read-only attribute.
fn qualifier(name: &str, attribute: &Attribute) -> String {
    let kind = match attribute.constraint {
        AttributeConstraint::Required => "Required",
        AttributeConstraint::Optional | AttributeConstraint::OptionalComputed => "Optional",
        AttributeConstraint::Computed => return String::new(),
    };
    let sensitive = if attribute.sensitive {
        ", Sensitive"
    } else {
        ""
    };
    // write-only attributes are marked by path; their names are unique
    let write_only = if crate::environment::schema::WRITE_ONLY
        .iter()
        .any(|path| path.rsplit('.').next() == Some(name))
    {
        ", Write-only"
    } else {
        ""
    };
    format!("({kind}{sensitive}{write_only}) ")
}

/// The arguments of `block`, its nested blocks listed with them and described
/// below, each after its parent (blocks within blocks included).
fn arguments(block: &Block) -> String {
    let (bullets, sections) = described(block);
    bullets + &sections
}

/// The bullets of `block`'s arguments and nested blocks, and the sections that
/// describe those blocks.
fn described(block: &Block) -> (String, String) {
    let mut bullets = list(block, is_argument);
    let nested: Vec<(&String, &Block)> = sorted_names(&block.blocks)
        .into_iter()
        .filter(|name| name.as_str() != TIMEOUTS)
        .filter_map(|name| match &block.blocks[name] {
            NestedBlock::Optional(inner) => Some((name, inner)),
            _ => None,
        })
        .collect();
    let mut sections = String::new();
    for (name, inner) in &nested {
        bullets.push_str(&format!(
            "* `{name}` - (Optional) Block, at most one. {} See [below](#{name}-block).\n",
            inner.description.content
        ));
        let (inner_bullets, inner_sections) = described(inner);
        sections.push_str(&format!(
            "\n### `{name}` block\n\n{}\n\n{inner_bullets}{inner_sections}",
            inner.description.content,
        ));
    }
    (bullets, sections)
}

fn attributes(block: &Block) -> String {
    list(block, |attribute| !is_argument(attribute))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> &'static Path {
        Path::new(env!("CARGO_MANIFEST_DIR"))
    }

    #[test]
    fn docs_are_current() {
        for (template, page) in PAGES {
            let rendered = render_page(root(), template).unwrap();
            let path = root().join(page);
            if std::env::var_os("PRODVPC_UPDATE_DOCS").is_some() {
                std::fs::write(&path, &rendered).unwrap();
            }
            let current = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                current == rendered,
                "{page} is stale: run PRODVPC_UPDATE_DOCS=1 cargo test --lib docs_are_current"
            );
        }
    }

    /// The text of a page's section, from its title to the next `## ` title.
    fn section(page: &str, title: &str) -> String {
        let start = page.find(title).unwrap_or_else(|| panic!("no {title}"));
        let rest = &page[start + title.len()..];
        rest[..rest.find("\n## ").unwrap_or(rest.len())].to_string()
    }

    #[test]
    fn arguments_and_attributes_are_apart() {
        let page = render_page(root(), PAGES[1].0).unwrap();
        let section = |title: &str| section(&page, title);
        let arguments = section("## Argument Reference");
        let attributes = section("## Attributes Reference");
        assert!(arguments.contains("* `name` - (Required)"));
        assert!(arguments.contains("* `user_data` - (Optional, Sensitive)"));
        assert!(arguments.contains("### `bastion` block"));
        assert!(arguments.contains("### `instance_refresh` block"));
        assert!(arguments.contains("* `min_healthy_percentage` - (Optional)"));
        assert!(!arguments.contains("`vpc_id`"), "read-only in arguments");
        assert!(attributes.contains("* `vpc_id` - ID of the VPC."));
        assert!(!attributes.contains("(Optional)"), "argument in attributes");
        assert!(section("## Timeouts").contains("* `delete` - "));
        assert!(page.starts_with("---\npage_title: "));
    }

    #[test]
    fn the_data_source_page_has_one_argument_and_the_read_only_attributes() {
        let page = render_page(root(), PAGES[2].0).unwrap();
        let arguments = section(&page, "## Argument Reference");
        let attributes = section(&page, "## Attributes Reference");
        assert_eq!(arguments.matches("* `").count(), 1, "{arguments}");
        assert!(arguments.contains("* `name` - (Required) Name of the environment to read"));
        for name in [
            "vpc_id",
            "private_subnet_ids",
            "vpc_cidr",
            "tags_all",
            "posture",
        ] {
            assert!(attributes.contains(&format!("* `{name}` - ")), "{name}");
        }
        assert!(!attributes.contains("(Optional)"), "argument in attributes");
        assert!(!attributes.contains("* `drift`"));
        assert!(page.starts_with("---\npage_title: \"prodvpc_environment Data Source"));
    }

    #[test]
    fn an_unknown_directive_is_refused() {
        let schema = crate::provider::provider_schema();
        let error = render(root(), "{{ argumentz }}\n", &schema).unwrap_err();
        assert!(error.contains("argumentz"), "{error}");
    }
}
