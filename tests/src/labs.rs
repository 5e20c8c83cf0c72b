//! The labs of the suite, found in `labs/`, and how a student may name one.
//!
//! A lab is a folder `labs/NN-name/`; nothing else lists them, so adding a
//! lab is adding its folder.

use std::path::{Path, PathBuf};

/// One lab: its number, its short name, and the folder it lives in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lab {
    /// Two digits, as in the folder name: `"01"`.
    pub number: String,
    /// The short name after the number: `"hello"`.
    pub name: String,
}

impl Lab {
    /// The folder name under `labs/`: `01-hello`.
    pub fn folder(&self) -> String {
        format!("{}-{}", self.number, self.name)
    }

    /// The lab's folder in this workspace.
    pub fn dir(&self) -> PathBuf {
        labs_dir().join(self.folder())
    }

    /// The name of this lab's binary `role` (`server`, `client`, …): `lab01-server`.
    pub fn binary(&self, role: &str) -> String {
        format!("lab{}-{role}", self.number)
    }

    /// Every program of this lab, as its Cargo.toml lists them (`[[bin]]`):
    /// the server, the client and any extra tool, so that a check of the
    /// command-line contract cannot miss a tool added later. Empty if the
    /// manifest cannot be read.
    pub fn programs(&self) -> Vec<String> {
        let manifest = std::fs::read_to_string(self.dir().join("Cargo.toml"))
            .unwrap_or_default()
            .parse::<toml_edit::DocumentMut>()
            .unwrap_or_default();
        let Some(bins) = manifest
            .get("bin")
            .and_then(toml_edit::Item::as_array_of_tables)
        else {
            return Vec::new();
        };
        bins.iter()
            .filter_map(|bin| bin.get("name")?.as_str().map(str::to_string))
            .collect()
    }
}

/// `labs/` in this workspace.
pub fn labs_dir() -> PathBuf {
    suite_dir().join("labs")
}

/// The suite's own folder, the workspace root: labs, fixtures and book.
pub fn suite_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("labkit lives in a folder of the workspace")
        .to_path_buf()
}

/// Every lab, in teaching order.
pub fn all() -> Vec<Lab> {
    let mut labs: Vec<Lab> = std::fs::read_dir(labs_dir())
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| parse_folder(&entry.file_name().to_string_lossy()))
        .collect();
    labs.sort_by(|a, b| a.number.cmp(&b.number));
    labs
}

/// `01-hello` → lab 01, "hello"; anything else is not a lab folder.
fn parse_folder(folder: &str) -> Option<Lab> {
    let (number, name) = folder.split_once('-')?;
    let is_number = number.len() == 2 && number.chars().all(|c| c.is_ascii_digit());
    (is_number && !name.is_empty()).then(|| Lab {
        number: number.to_string(),
        name: name.to_string(),
    })
}

/// Finds a lab from what a student typed: `1`, `01`, `hello` or `01-hello`.
pub fn find(query: &str) -> Result<Lab, String> {
    find_in(&all(), query)
}

fn find_in(labs: &[Lab], query: &str) -> Result<Lab, String> {
    let query = query.trim().to_ascii_lowercase();
    let wanted_number = query.parse::<u32>().ok().map(|n| format!("{n:02}"));
    labs.iter()
        .find(|lab| {
            wanted_number.as_deref() == Some(lab.number.as_str())
                || query == lab.name
                || query == lab.folder()
        })
        .cloned()
        .ok_or_else(|| {
            let known: Vec<String> = labs.iter().map(Lab::folder).collect();
            format!(
                "there is no lab '{query}'; the labs are {} (give the number, like 1 or 01, or the name)",
                known.join(", ")
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Lab> {
        ["01-hello", "02-loops", "notes", "7-x", "03-"]
            .iter()
            .filter_map(|folder| parse_folder(folder))
            .collect()
    }

    #[test]
    fn only_numbered_folders_are_labs() {
        let folders: Vec<String> = sample().iter().map(Lab::folder).collect();
        assert_eq!(folders, ["01-hello", "02-loops"]);
    }

    #[test]
    fn a_lab_can_be_named_by_number_padded_number_or_name() {
        for query in ["1", "01", "hello", "01-hello", " Hello "] {
            assert_eq!(
                find_in(&sample(), query).unwrap().folder(),
                "01-hello",
                "{query:?}"
            );
        }
        assert_eq!(
            find_in(&sample(), "2").unwrap().binary("client"),
            "lab02-client"
        );
    }

    #[test]
    fn an_unknown_lab_lists_the_ones_that_exist() {
        let err = find_in(&sample(), "99").unwrap_err();
        assert!(err.contains("no lab '99'"), "{err}");
        assert!(err.contains("01-hello, 02-loops"), "{err}");
    }

    #[test]
    fn the_workspace_labs_are_found() {
        assert_eq!(find("1").unwrap().dir(), labs_dir().join("01-hello"));
    }

    #[test]
    fn a_labs_programs_are_its_cargo_bins_tools_included() {
        let programs = find("02").unwrap().programs();
        for program in ["lab02-server", "lab02-client", "lab02-crowd"] {
            assert!(programs.iter().any(|p| p == program), "{programs:?}");
        }
    }
}
