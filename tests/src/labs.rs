//! The labs of the suite, and how a student may name one.

/// One lab: its number, its short name, and the folder it lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lab {
    /// Two digits, as in the folder name: `"01"`.
    pub number: &'static str,
    /// The short name after the number: `"hello"`.
    pub name: &'static str,
}

/// Every lab that exists, in teaching order.
pub const LABS: &[Lab] = &[
    Lab {
        number: "01",
        name: "hello",
    },
    Lab {
        number: "02",
        name: "loops",
    },
];

impl Lab {
    /// The folder under `labs/`: `01-hello`.
    pub fn folder(&self) -> String {
        format!("{}-{}", self.number, self.name)
    }

    /// The name of this lab's binary `role` (`server`, `client`, …): `lab01-server`.
    pub fn binary(&self, role: &str) -> String {
        format!("lab{}-{role}", self.number)
    }
}

/// Finds a lab from what a student typed: `1`, `01`, `hello` or `01-hello`.
pub fn find(query: &str) -> Result<Lab, String> {
    let query = query.trim().to_ascii_lowercase();
    let wanted_number = query.parse::<u32>().ok().map(|n| format!("{n:02}"));
    LABS.iter()
        .copied()
        .find(|lab| {
            wanted_number.as_deref() == Some(lab.number)
                || query == lab.name
                || query == lab.folder()
        })
        .ok_or_else(|| {
            let known: Vec<String> = LABS.iter().map(Lab::folder).collect();
            format!(
                "there is no lab '{query}'; the labs are {} (give the number, like 1 or 01, or the name)",
                known.join(", ")
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lab_can_be_named_by_number_padded_number_or_name() {
        for query in ["1", "01", "hello", "01-hello", " Hello "] {
            assert_eq!(find(query).unwrap().folder(), "01-hello", "query {query:?}");
        }
        assert_eq!(find("1").unwrap().binary("client"), "lab01-client");
    }

    #[test]
    fn an_unknown_lab_lists_the_ones_that_exist() {
        let err = find("99").unwrap_err();
        assert!(err.contains("no lab '99'"), "{err}");
        assert!(err.contains("01-hello"), "{err}");
    }
}
