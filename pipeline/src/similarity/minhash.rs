//! A MinHash signature of a page's OCR words, estimating the Jaccard similarity of the sets of
//! word shingles (runs of [`SHINGLE_WORDS`] words) of two pages.
//!
//! Words are lower-cased and stripped of punctuation; one-letter words are dropped, since OCR
//! invents and loses them in noise. A shingle is hashed once with 64-bit FNV-1a, and the
//! [`MINHASH_SIZE`] hash functions are that value xor-ed with a fixed seed each and put through
//! the SplitMix64 finaliser. Both are written out here rather than taken from a crate (or from
//! std's `DefaultHasher`, which may change between Rust releases) because signatures are stored
//! in the database and must compare equal across versions forever.

/// Words per shingle.
pub const SHINGLE_WORDS: usize = 3;
/// Hash functions per signature; the similarity estimate's standard error is about 0.04.
pub const MINHASH_SIZE: usize = 128;

/// The normalised words of an OCR text.
pub fn words(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|w| {
            w.chars()
                .filter(|c| c.is_alphanumeric())
                .flat_map(char::to_lowercase)
                .collect::<String>()
        })
        .filter(|w| w.chars().count() > 1)
        .collect()
}

/// The signature of a text; empty when the text has fewer than [`SHINGLE_WORDS`] words.
pub fn minhash(text: &str) -> Vec<u32> {
    let words = words(text);
    if words.len() < SHINGLE_WORDS {
        return Vec::new();
    }
    let mut signature = vec![u32::MAX; MINHASH_SIZE];
    for shingle in words.windows(SHINGLE_WORDS) {
        let base = fnv1a(shingle);
        for (slot, seed) in signature.iter_mut().zip(SEEDS.iter()) {
            let h = (splitmix64(base ^ seed) >> 32) as u32;
            if h < *slot {
                *slot = h;
            }
        }
    }
    signature
}

/// The share of equal positions, estimating Jaccard similarity; 0 when either is empty.
pub fn minhash_similarity(a: &[u32], b: &[u32]) -> f32 {
    if a.is_empty() || a.len() != b.len() {
        return 0.0;
    }
    a.iter().zip(b).filter(|(x, y)| x == y).count() as f32 / a.len() as f32
}

fn fnv1a(shingle: &[String]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, word) in shingle.iter().enumerate() {
        if i > 0 {
            h = (h ^ u64::from(b' ')).wrapping_mul(0x100_0000_01b3);
        }
        for byte in word.bytes() {
            h = (h ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3);
        }
    }
    h
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Seed `i` is the i-th output of SplitMix64 from 0: fixed forever, like the hash.
static SEEDS: std::sync::LazyLock<[u64; MINHASH_SIZE]> = std::sync::LazyLock::new(|| {
    let mut seeds = [0u64; MINHASH_SIZE];
    let mut state = 0u64;
    for seed in &mut seeds {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        *seed = splitmix64(state);
    }
    seeds
});

#[cfg(test)]
mod tests {
    use super::*;

    const PINNED_0: u32 = 51_127_363;
    const PINNED_1: u32 = 320_092_793;
    const PINNED_2: u32 = 713_429_084;

    #[test]
    fn words_are_normalised() {
        assert_eq!(
            words("The  Library's records, 1887. a I"),
            vec!["the", "librarys", "records", "1887"]
        );
    }

    #[test]
    fn signatures_are_stable_and_estimate_overlap() {
        let text = "the collection of printed letters was read widely in the village schools of the region";
        let sig = minhash(text);
        assert_eq!(sig.len(), MINHASH_SIZE);
        // Pinned so that a change of hash, seeds or normalisation (which would orphan every
        // stored signature) fails here. Both were cross-checked with a separate Python version.
        assert_eq!(fnv1a(&["ab".into(), "cd".into()]), 0x971a_032e_b5b6_43b9);
        assert_eq!(sig[..3], [PINNED_0, PINNED_1, PINNED_2]);
        assert_eq!(minhash_similarity(&sig, &minhash(text)), 1.0);
        let half = "the collection of printed letters was read widely in the harbour bridges of the market towns";
        let s = minhash_similarity(&sig, &minhash(half));
        assert!((0.2..0.8).contains(&s), "{s}");
        assert_eq!(minhash("too short"), Vec::<u32>::new());
        assert_eq!(minhash_similarity(&[], &[]), 0.0);
    }
}
