//! Cargo manifests, edited line by line: the starter keeps the suite's
//! settings with concrete values and only the dependencies its crates use.

use std::collections::BTreeSet;

use crate::labs::Lab;

/// Dev-dependencies only the lab's own tests use; those tests stay behind
/// (the student is graded by `just grade` instead).
const TEST_ONLY_DEPENDENCIES: [&str; 2] = ["labkit", "assert_cmd"];

/// One `[section]` of a Cargo manifest (or the lines before the first one).
struct Section<'a> {
    /// The header line as written, `None` for the lines before the first.
    header: Option<&'a str>,
    /// The header's name: `workspace.dependencies`, `bin`, …
    name: String,
    lines: Vec<&'a str>,
}

/// Cuts a manifest into its sections, keeping every line.
fn sections(manifest: &str) -> Vec<Section<'_>> {
    let mut sections = vec![Section {
        header: None,
        name: String::new(),
        lines: Vec::new(),
    }];
    for line in manifest.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            let name = trimmed.trim_start_matches('[');
            let name = name.split(']').next().unwrap_or(name).trim();
            sections.push(Section {
                header: Some(line),
                name: name.to_string(),
                lines: Vec::new(),
            });
        } else if let Some(last) = sections.last_mut() {
            last.lines.push(line);
        }
    }
    sections
}

/// Puts sections back together.
fn render(sections: &[Section<'_>]) -> String {
    let mut out = String::new();
    for section in sections {
        for line in section.header.iter().chain(&section.lines) {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The key of a `key = value` (or `key.sub = value`) line.
fn entry_key(trimmed: &str) -> &str {
    let key = trimmed.split('=').next().unwrap_or(trimmed);
    key.split('.')
        .next()
        .unwrap_or(key)
        .trim()
        .trim_matches('"')
}

/// How many brackets and braces `line` opens, minus those it closes (outside
/// strings and comments): above 0, the value goes on to the next lines.
fn bracket_balance(line: &str) -> i32 {
    let (mut balance, mut in_string) = (0, false);
    for c in line.chars() {
        match c {
            '"' => in_string = !in_string,
            '#' if !in_string => break,
            '[' | '{' if !in_string => balance += 1,
            ']' | '}' if !in_string => balance -= 1,
            _ => {}
        }
    }
    balance
}

/// The lines of a section whose entries `keep` accepts; the comment lines
/// just above an entry go with it.
fn filter_entries<'a>(lines: &[&'a str], keep: impl Fn(&str) -> bool) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut comments = Vec::new();
    let (mut depth, mut keeping) = (0, true);
    for &line in lines {
        let trimmed = line.trim();
        if depth > 0 {
            if keeping {
                out.push(line);
            }
            depth += bracket_balance(line);
        } else if trimmed.starts_with('#') {
            comments.push(line);
        } else if trimmed.is_empty() {
            out.append(&mut comments);
            out.push(line);
        } else {
            keeping = keep(entry_key(trimmed));
            if keeping {
                out.append(&mut comments);
                out.push(line);
            }
            comments.clear();
            depth = bracket_balance(line);
        }
    }
    out.append(&mut comments);
    out
}

/// The names of the packages a manifest depends on, in any of its
/// dependency sections.
pub(super) fn dependency_names(manifest: &str) -> BTreeSet<String> {
    sections(manifest)
        .iter()
        .filter(|section| section.name.ends_with("dependencies"))
        .flat_map(|section| section.lines.iter())
        .map(|line| line.trim())
        .filter(|line| !line.is_empty() && !line.starts_with('#') && line.contains('='))
        .map(|line| entry_key(line).to_string())
        .collect()
}

/// The lab's manifest without the dev-dependencies of its tests, which stay
/// behind.
pub(super) fn member_manifest(lab_manifest: &str) -> String {
    let mut kept = Vec::new();
    for mut section in sections(lab_manifest) {
        if section.name == "dev-dependencies" {
            section.lines =
                filter_entries(&section.lines, |key| !TEST_ONLY_DEPENDENCIES.contains(&key));
            let has_entries = section.lines.iter().any(|line| {
                let trimmed = line.trim();
                !trimmed.is_empty() && !trimmed.starts_with('#')
            });
            if !has_entries {
                continue;
            }
        }
        kept.push(section);
    }
    render(&kept)
}

/// The starter's own workspace manifest: the suite's settings, lints and
/// profiles with their concrete values, its two members, and the workspace
/// dependencies they use (at the suite's versions).
pub(super) fn workspace_manifest(
    suite_manifest: &str,
    lab: &Lab,
    package: &str,
    earlier_labs: &[String],
    used: &BTreeSet<String>,
) -> String {
    let mut out = format!(
        "# Lab {} ({}), starter: generated by `just starter {}` from the sockets labs.\n\
         # {package} is where your TODOs are; shared is the command-line contract\n\
         # every lab uses{} (finished; you need not touch them).\n\n",
        lab.number,
        lab.name,
        lab.number,
        if earlier_labs.is_empty() {
            String::new()
        } else {
            format!(
                ", and {} the earlier lab it builds on",
                earlier_labs.join(", ")
            )
        }
    );
    let mut member_names = vec!["\"shared\"".to_string(), format!("\"{package}\"")];
    member_names.extend(earlier_labs.iter().map(|folder| format!("\"{folder}\"")));
    let members = format!("members = [{}]", member_names.join(", "));
    let mut kept = Vec::new();
    for mut section in sections(suite_manifest) {
        match section.name.as_str() {
            // The suite's opening comments are about the suite.
            "" => continue,
            "workspace" => {
                let mut lines = vec![members.as_str()];
                lines.extend(filter_entries(&section.lines, |key| {
                    !["members", "exclude", "default-members"].contains(&key)
                }));
                section.lines = lines;
            }
            "workspace.dependencies" => {
                section.lines = filter_entries(&section.lines, |key| used.contains(key));
            }
            _ => {}
        }
        kept.push(section);
    }
    out.push_str(&render(&kept));
    out
}

/// The folders of earlier labs that a lab's manifest depends on by path
/// (`lab05-framed-header = { path = "../05-framed-header" }` → `05-framed-header`).
pub(super) fn earlier_lab_dependencies(manifest: &str) -> Vec<String> {
    manifest
        .lines()
        .filter_map(|line| {
            let rest = line.split_once("path = \"../")?.1;
            let folder = rest.split('"').next()?;
            (!folder.is_empty() && !folder.contains('/')).then(|| folder.to_string())
        })
        .collect()
}

/// The `name` in a manifest's `[package]` section.
pub(super) fn package_name(manifest: &str) -> Option<String> {
    sections(manifest)
        .iter()
        .find(|section| section.name == "package")?
        .lines
        .iter()
        .map(|line| line.trim())
        .find(|line| entry_key(line) == "name" && line.contains('='))
        .and_then(|line| line.split_once('='))
        .map(|(_, value)| value.trim().trim_matches('"').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_earlier_lab_dependency_is_found_by_its_folder() {
        let manifest = "[dependencies]\nshared.workspace = true\nlab05-framed-header = { path = \"../05-framed-header\" }\n";
        assert_eq!(earlier_lab_dependencies(manifest), ["05-framed-header"]);
        assert!(
            earlier_lab_dependencies("[dependencies]\nx = { path = \"../../elsewhere/x\" }\n")
                .is_empty()
        );
    }

    #[test]
    fn the_member_manifest_drops_only_the_test_harness() {
        let manifest = "\
[package]
name = \"lab09-x\"
edition.workspace = true

[dependencies]
shared.workspace = true
serde = { workspace = true, features = [
    \"derive\",
] }

[dev-dependencies]
labkit.workspace = true
assert_cmd.workspace = true

[lints]
workspace = true
";
        let member = member_manifest(manifest);
        assert!(!member.contains("dev-dependencies"), "{member}");
        assert!(!member.contains("labkit"), "{member}");
        assert!(member.contains("    \"derive\",\n] }\n"), "{member}");
        assert!(member.ends_with("[lints]\nworkspace = true\n"), "{member}");
        assert_eq!(
            dependency_names(&member).into_iter().collect::<Vec<_>>(),
            ["serde", "shared"]
        );
        assert_eq!(package_name(manifest).as_deref(), Some("lab09-x"));
        let kept =
            member_manifest("[dev-dependencies]\nlabkit.workspace = true\ntempfile = \"3\"\n");
        assert_eq!(kept, "[dev-dependencies]\ntempfile = \"3\"\n");
    }

    #[test]
    fn the_workspace_manifest_keeps_concrete_values_and_only_used_dependencies() {
        let suite = "\
[workspace]
resolver = \"3\"
members = [\"shared\", \"tests\", \"labs/*\"]

[workspace.package]
edition = \"2024\"

[workspace.dependencies]
shared = { path = \"shared\" }
labkit = { path = \"tests\" }
clap = { version = \"4.5\", features = [\"derive\"] }
# Only lab 06 hashes.
sha2 = \"0.11\"

[workspace.lints.rust]
missing_docs = \"warn\"
";
        let lab = Lab {
            number: "09".to_string(),
            name: "x".to_string(),
        };
        let used: BTreeSet<String> = ["shared", "clap"].map(String::from).into();
        let manifest = workspace_manifest(suite, &lab, "lab09-x", &[], &used);
        let body = manifest.split_once("\n\n").unwrap().1;
        assert_eq!(
            body,
            "\
[workspace]
members = [\"shared\", \"lab09-x\"]
resolver = \"3\"

[workspace.package]
edition = \"2024\"

[workspace.dependencies]
shared = { path = \"shared\" }
clap = { version = \"4.5\", features = [\"derive\"] }

[workspace.lints.rust]
missing_docs = \"warn\"
"
        );
    }
}
