//! ISSN and ISBN identifiers: parsing, check digits, one canonical form each. Nothing here
//! looks anything up; a valid check digit only says the number was not mistyped.

/// `1234-567X` form of a valid ISSN, or why it is not one.
pub fn issn(raw: &str) -> Result<String, String> {
    let chars: Vec<char> = raw
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if chars.len() != 8
        || !chars[..7].iter().all(char::is_ascii_digit)
        || !(chars[7].is_ascii_digit() || chars[7] == 'X')
    {
        return Err(format!("ISSN `{raw}` is not 8 digits (the last may be X)"));
    }
    let sum: u32 = chars[..7]
        .iter()
        .enumerate()
        .map(|(i, c)| c.to_digit(10).unwrap() * (8 - i as u32))
        .sum();
    let check = (11 - sum % 11) % 11;
    let expected = if check == 10 {
        'X'
    } else {
        char::from_digit(check, 10).unwrap()
    };
    if chars[7] != expected {
        return Err(format!(
            "ISSN `{raw}` fails its check digit (expected {expected})"
        ));
    }
    let s: String = chars.into_iter().collect();
    Ok(format!("{}-{}", &s[..4], &s[4..]))
}

/// A valid ISBN as 13 digits (an ISBN-10 is converted, so both forms of a book match), or why
/// it is not one.
pub fn isbn(raw: &str) -> Result<String, String> {
    let chars: Vec<char> = raw
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    match chars.len() {
        10 if chars[..9].iter().all(char::is_ascii_digit)
            && (chars[9].is_ascii_digit() || chars[9] == 'X') =>
        {
            let sum: u32 = chars
                .iter()
                .enumerate()
                .map(|(i, c)| c.to_digit(10).unwrap_or(10) * (10 - i as u32))
                .sum();
            if !sum.is_multiple_of(11) {
                return Err(format!("ISBN `{raw}` fails its check digit"));
            }
            let body: String = std::iter::once("978".to_string())
                .chain(chars[..9].iter().map(|c| c.to_string()))
                .collect();
            Ok(format!("{body}{}", isbn13_check(&body)))
        }
        13 if chars.iter().all(char::is_ascii_digit) => {
            let body: String = chars[..12].iter().collect();
            if isbn13_check(&body) != chars[12].to_digit(10).unwrap() {
                return Err(format!("ISBN `{raw}` fails its check digit"));
            }
            Ok(chars.into_iter().collect())
        }
        _ => Err(format!("ISBN `{raw}` is not 10 or 13 digits")),
    }
}

fn isbn13_check(first12: &str) -> u32 {
    let sum: u32 = first12
        .chars()
        .enumerate()
        .map(|(i, c)| c.to_digit(10).unwrap() * if i % 2 == 0 { 1 } else { 3 })
        .sum();
    (10 - sum % 10) % 10
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issn_check_digits() {
        assert_eq!(issn("0378-5955").unwrap(), "0378-5955");
        assert_eq!(issn("03785955").unwrap(), "0378-5955");
        // X stands for ten.
        assert_eq!(issn("2434-561x").unwrap(), "2434-561X");
        assert_eq!(issn("0317-8471").unwrap(), "0317-8471");
        assert!(issn("0378-5954").unwrap_err().contains("check digit"));
        assert!(issn("0378-595").unwrap_err().contains("8 digits"));
        assert!(issn("ABCD-EFGH").is_err());
    }

    #[test]
    fn isbn_ten_and_thirteen_agree() {
        assert_eq!(isbn("0-306-40615-2").unwrap(), "9780306406157");
        assert_eq!(isbn("978-0-306-40615-7").unwrap(), "9780306406157");
        assert!(isbn("0-306-40615-3").is_err());
        assert!(isbn("978-0-306-40615-8").is_err());
        assert!(isbn("12345").is_err());
    }
}
