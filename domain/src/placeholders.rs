//! The one syntax of the texts staff write (e-mail notices, cover sheets, stamps): literal
//! text with named `{placeholders}`, where `{{` and `}}` stand for literal braces. This splits
//! a text into its pieces; each user (the mailer, the stamper) decides which names exist and
//! what a mistake is called in its own words.

/// One piece of a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Literal text, braces already unescaped.
    Text(String),
    /// A placeholder's name, exactly as written between the braces, and the byte offset of
    /// its `{`.
    Name { name: &'a str, at: usize },
}

/// Why a text is not well formed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Malformed<'a> {
    /// A `{` at byte `at` with no `}` after it; `rest` is what follows it.
    Unclosed { at: usize, rest: &'a str },
    /// A `}` at byte `at` that closes nothing.
    StrayClose { at: usize },
}

/// Splits `text` into literal text and placeholder names.
pub fn split(text: &str) -> Result<Vec<Piece<'_>>, Malformed<'_>> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        let next = chars.peek().map(|&(_, c)| c);
        match c {
            '{' if next == Some('{') => {
                chars.next();
                literal.push('{');
            }
            '}' if next == Some('}') => {
                chars.next();
                literal.push('}');
            }
            '{' => {
                let rest = &text[at + 1..];
                let Some(len) = rest.find('}') else {
                    return Err(Malformed::Unclosed { at, rest });
                };
                if !literal.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut literal)));
                }
                pieces.push(Piece::Name {
                    name: &rest[..len],
                    at,
                });
                // Skip the name and its `}`.
                while chars.next_if(|&(i, _)| i <= at + 1 + len).is_some() {}
            }
            '}' => return Err(Malformed::StrayClose { at }),
            c => literal.push(c),
        }
    }
    if !literal.is_empty() {
        pieces.push(Piece::Text(literal));
    }
    Ok(pieces)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_text_and_escaped_braces() {
        // `é` is two bytes: offsets are bytes.
        let pieces = split("{{a}} é{link}|{ x }}}").unwrap();
        assert_eq!(
            pieces,
            [
                Piece::Text("{a} é".into()),
                Piece::Name {
                    name: "link",
                    at: 8
                },
                Piece::Text("|".into()),
                Piece::Name {
                    name: " x ",
                    at: 15
                },
                Piece::Text("}".into()),
            ]
        );
    }

    #[test]
    fn unclosed_and_stray_braces_are_named_with_their_place() {
        assert_eq!(
            split("ab{cd"),
            Err(Malformed::Unclosed { at: 2, rest: "cd" })
        );
        assert_eq!(split("ab}cd"), Err(Malformed::StrayClose { at: 2 }));
    }
}
