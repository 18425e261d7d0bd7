//! Error reports that keep their causes. An error is written as its own message followed by each
//! `source()` in turn, `top: cause: root cause`, on one line (zero-to-production's
//! `error_chain_fmt`, flattened for log fields and the CLI's one-line errors). A cause whose text
//! the report already holds is skipped, so a wrapper that repeats its source is not printed twice.

use std::error::Error;
use std::fmt;

/// `Chain(&error)` displays the error and its whole source chain.
pub struct Chain<'a>(pub &'a (dyn Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut written = one_line(&self.0.to_string());
        let mut cause = self.0.source();
        while let Some(c) = cause {
            let text = one_line(&c.to_string());
            if !text.is_empty() && !written.contains(&text) {
                written.push_str(": ");
                written.push_str(&text);
            }
            cause = c.source();
        }
        f.write_str(&written)
    }
}

impl fmt::Debug for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("migration failed")]
    struct Outer(#[source] Middle);

    #[derive(Debug, thiserror::Error)]
    #[error("error returned from database: table tenants\nalready exists")]
    struct Middle(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("table tenants already exists")]
    struct Inner;

    #[test]
    fn a_chain_is_one_line_without_repeats() {
        let e = Outer(Middle(Inner));
        assert_eq!(
            Chain(&e).to_string(),
            "migration failed: error returned from database: table tenants already exists"
        );
        assert_eq!(Chain(&Inner).to_string(), "table tenants already exists");
    }
}
