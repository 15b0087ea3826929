//! Huffman tables built for the image, put into a finished baseline JPEG afterwards (what
//! `jpegtran -optimize` does): the entropy-coded data is decoded to its symbols, their counts
//! give optimal tables (ITU T.81 Annex K.2, with libjpeg's 16-bit limit), and the same symbols
//! and extra bits are written again with the new codes. The quantised coefficients, and so the
//! decoded pixels, do not change.
//!
//! Why not the encoder's own option: jpeg-encoder builds tables only by holding every
//! coefficient of the page until the end (2 bytes a sample, twice a grey page's size; issue 14
//! allows a page two buffers), and then writes colour as one scan per component, which the
//! `image` crate's decoder (our own PDF input among its users) reads wrongly at 4:2:0. Here the
//! encoder streams as before, interleaved, and this pass holds only the compressed bytes.
//!
//! Only what Quire's encoder writes is handled: baseline (SOF0), one scan, no restart
//! intervals. Anything else, or any inconsistency, returns `None` and the caller keeps the
//! JPEG it had.

/// A Huffman table as a JPEG stores it: code counts by length (1..=16) and symbols in code
/// order.
#[derive(Debug, Clone)]
struct Table {
    bits: [u8; 16],
    values: Vec<u8>,
}

/// Canonical codes of a table, for decoding (T.81 Annex F.2.2.3) and encoding (Annex C).
struct Codes {
    /// For each length 1..=16: the largest code of that length, or -1 when there is none.
    max_code: [i32; 17],
    /// For each length: index into `values` of its first code, minus that code.
    offset: [i32; 17],
    values: Vec<u8>,
    /// Code and length by symbol, for encoding.
    by_symbol: [(u16, u8); 256],
}

impl Codes {
    fn new(table: &Table) -> Codes {
        let mut max_code = [-1i32; 17];
        let mut offset = [0i32; 17];
        let mut by_symbol = [(0u16, 0u8); 256];
        let mut code = 0i32;
        let mut k = 0usize;
        for len in 1..=16 {
            let n = usize::from(table.bits[len - 1]);
            offset[len] = k as i32 - code;
            for _ in 0..n {
                if let Some(&sym) = table.values.get(k) {
                    by_symbol[usize::from(sym)] = (code as u16, len as u8);
                }
                code += 1;
                k += 1;
            }
            if n > 0 {
                max_code[len] = code - 1;
            }
            code <<= 1;
        }
        Codes {
            max_code,
            offset,
            values: table.values.clone(),
            by_symbol,
        }
    }
}

/// Reads the entropy-coded segment bit by bit, undoing the 0xFF 0x00 stuffing.
struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
    acc: u32,
    count: u32,
}

impl BitReader<'_> {
    fn bit(&mut self) -> Option<u32> {
        if self.count == 0 {
            let b = *self.data.get(self.pos)?;
            self.pos += 1;
            if b == 0xFF {
                // Stuffed zero, or a marker: the data ended early.
                if *self.data.get(self.pos)? != 0 {
                    return None;
                }
                self.pos += 1;
            }
            self.acc = u32::from(b);
            self.count = 8;
        }
        self.count -= 1;
        Some((self.acc >> self.count) & 1)
    }

    fn bits(&mut self, n: u8) -> Option<u32> {
        let mut v = 0;
        for _ in 0..n {
            v = (v << 1) | self.bit()?;
        }
        Some(v)
    }

    fn symbol(&mut self, codes: &Codes) -> Option<u8> {
        let mut code = 0i32;
        for len in 1..=16 {
            code = (code << 1) | self.bit()? as i32;
            if code <= codes.max_code[len] {
                return codes
                    .values
                    .get((code + codes.offset[len]) as usize)
                    .copied();
            }
        }
        None
    }
}

/// Writes bits MSB first, stuffing a zero after each 0xFF byte.
struct BitWriter {
    out: Vec<u8>,
    acc: u32,
    count: u32,
}

impl BitWriter {
    fn put(&mut self, value: u32, n: u8) {
        for i in (0..n).rev() {
            self.acc = (self.acc << 1) | ((value >> i) & 1);
            self.count += 1;
            if self.count == 8 {
                let b = self.acc as u8;
                self.out.push(b);
                if b == 0xFF {
                    self.out.push(0);
                }
                self.acc = 0;
                self.count = 0;
            }
        }
    }

    /// Pads the last byte with one bits, as T.81 F.1.2.3 asks.
    fn finish(mut self) -> Vec<u8> {
        if self.count > 0 {
            let n = 8 - self.count as u8;
            self.put((1 << n) - 1, n);
        }
        self.out
    }
}

/// One component of the scan: its blocks per MCU and its tables.
struct ScanComponent {
    h: usize,
    v: usize,
    dc: usize,
    ac: usize,
}

/// Where a table lives: index 0..4 for DC tables 0..3, 4..8 for AC tables 0..3.
fn slot(class: u8, id: u8) -> Option<usize> {
    (id < 4 && class < 2).then(|| usize::from(class) * 4 + usize::from(id))
}

/// Walks every symbol of the scan: `visit(table slot, symbol, extra bits, their count)`.
fn walk(
    data: &[u8],
    comps: &[ScanComponent],
    mcus: usize,
    codes: &[Option<Codes>; 8],
    mut visit: impl FnMut(usize, u8, u32, u8),
) -> Option<()> {
    let mut r = BitReader {
        data,
        pos: 0,
        acc: 0,
        count: 0,
    };
    for _ in 0..mcus {
        for c in comps {
            let dc = codes[c.dc].as_ref()?;
            let ac = codes[4 + c.ac].as_ref()?;
            for _ in 0..c.h * c.v {
                let s = r.symbol(dc)?;
                if s > 11 {
                    return None;
                }
                let extra = r.bits(s)?;
                visit(c.dc, s, extra, s);
                let mut k = 1;
                while k < 64 {
                    let rs = r.symbol(ac)?;
                    let (run, size) = (usize::from(rs >> 4), rs & 15);
                    let extra = r.bits(size)?;
                    visit(4 + c.ac, rs, extra, size);
                    if size == 0 {
                        if run == 15 {
                            k += 16;
                            continue;
                        }
                        break;
                    }
                    k += run + 1;
                }
                if k > 64 {
                    return None;
                }
            }
        }
    }
    Some(())
}

/// Optimal code lengths for `freq` (T.81 K.2, with libjpeg's reserved all-ones code and
/// its 16-bit limit).
fn optimal_table(freq: &[u64; 256]) -> Option<Table> {
    let mut f = [0u64; 257];
    f[..256].copy_from_slice(freq);
    f[256] = 1; // reserves one code point so that no code is all ones
    let mut codesize = [0usize; 257];
    let mut others = [-1i32; 257];
    loop {
        // The two least frequent (ties: the larger symbol first, as libjpeg does).
        let mut c1 = -1i32;
        let mut v = u64::MAX;
        for (i, &fi) in f.iter().enumerate() {
            if fi != 0 && fi <= v {
                v = fi;
                c1 = i as i32;
            }
        }
        let mut c2 = -1i32;
        let mut v = u64::MAX;
        for (i, &fi) in f.iter().enumerate() {
            if fi != 0 && fi <= v && i as i32 != c1 {
                v = fi;
                c2 = i as i32;
            }
        }
        if c2 < 0 {
            break;
        }
        let (mut a, mut b) = (c1 as usize, c2 as usize);
        f[a] += f[b];
        f[b] = 0;
        codesize[a] += 1;
        while others[a] >= 0 {
            a = others[a] as usize;
            codesize[a] += 1;
        }
        others[a] = b as i32;
        codesize[b] += 1;
        while others[b] >= 0 {
            b = others[b] as usize;
            codesize[b] += 1;
        }
    }
    let mut bits = [0i32; 33];
    for &size in &codesize {
        if size > 32 {
            // Only for frequencies growing like Fibonacci numbers past 2^32; never from a page.
            return None;
        }
        if size > 0 {
            bits[size] += 1;
        }
    }
    for i in (17..=32).rev() {
        while bits[i] > 0 {
            let mut j = i - 2;
            while bits[j] == 0 {
                j -= 1;
            }
            bits[i] -= 2;
            bits[i - 1] += 1;
            bits[j + 1] += 2;
            bits[j] -= 1;
        }
    }
    let mut i = 16;
    while bits[i] == 0 {
        i -= 1;
    }
    bits[i] -= 1; // the reserved code point
    let mut values = Vec::new();
    for len in 1..=32 {
        for (sym, &size) in codesize[..256].iter().enumerate() {
            if size == len {
                values.push(sym as u8);
            }
        }
    }
    let mut out = [0u8; 16];
    for (o, &b) in out.iter_mut().zip(&bits[1..=16]) {
        *o = b as u8;
    }
    Some(Table { bits: out, values })
}

fn be16(d: &[u8], at: usize) -> Option<usize> {
    Some(usize::from(u16::from_be_bytes([
        *d.get(at)?,
        *d.get(at + 1)?,
    ])))
}

/// The same JPEG with Huffman tables built for its own symbols; `None` if it is not a JPEG
/// this handles (see the module doc). Decoded pixels are unchanged.
pub fn optimise(jpeg: &[u8]) -> Option<Vec<u8>> {
    if jpeg.get(..2)? != [0xFF, 0xD8] {
        return None;
    }
    let mut tables: [Option<Table>; 8] = Default::default();
    let mut sampling: Vec<(u8, usize, usize)> = Vec::new();
    let (mut width, mut height) = (0usize, 0usize);
    // Segments kept as they are (all but DHT), in order, up to and including SOS.
    let mut kept: Vec<&[u8]> = vec![&jpeg[..2]];
    let mut pos = 2;
    let (scan_comps, scan_start) = loop {
        if *jpeg.get(pos)? != 0xFF {
            return None;
        }
        let marker = *jpeg.get(pos + 1)?;
        let len = be16(jpeg, pos + 2)?;
        let seg = jpeg.get(pos..pos + 2 + len)?;
        let body = &seg[4..];
        match marker {
            0xC4 => {
                let mut at = 0;
                while at < body.len() {
                    let (class, id) = (body[at] >> 4, body[at] & 15);
                    let mut bits = [0u8; 16];
                    bits.copy_from_slice(body.get(at + 1..at + 17)?);
                    let n: usize = bits.iter().map(|&b| usize::from(b)).sum();
                    let values = body.get(at + 17..at + 17 + n)?.to_vec();
                    tables[slot(class, id)?] = Some(Table { bits, values });
                    at += 17 + n;
                }
            }
            0xC0 => {
                height = be16(body, 1)?;
                width = be16(body, 3)?;
                let n = usize::from(*body.get(5)?);
                for c in 0..n {
                    let b = body.get(6 + 3 * c..9 + 3 * c)?;
                    sampling.push((b[0], usize::from(b[1] >> 4), usize::from(b[1] & 15)));
                }
                kept.push(seg);
            }
            0xDA => {
                let n = usize::from(*body.first()?);
                let mut comps = Vec::new();
                for c in 0..n {
                    let b = body.get(1 + 2 * c..3 + 2 * c)?;
                    let &(_, h, v) = sampling.iter().find(|s| s.0 == b[0])?;
                    comps.push((h, v, usize::from(b[1] >> 4), usize::from(b[1] & 15)));
                }
                kept.push(seg);
                break (comps, pos + 2 + len);
            }
            // Progressive, lossless, arithmetic, restart intervals: not what Quire writes.
            0xC1..=0xCF | 0xDD => return None,
            _ => kept.push(seg),
        }
        pos += 2 + len;
    };
    if width == 0 || height == 0 || sampling.is_empty() {
        return None;
    }
    let h_max = sampling.iter().map(|s| s.1).max()?;
    let v_max = sampling.iter().map(|s| s.2).max()?;
    let (comps, mcus) = if scan_comps.len() == 1 {
        // A single-component scan codes one block per MCU over that component's own size.
        let (h, v, dc, ac) = scan_comps[0];
        let cw = (width * h).div_ceil(h_max);
        let ch = (height * v).div_ceil(v_max);
        let comp = ScanComponent { h: 1, v: 1, dc, ac };
        (vec![comp], cw.div_ceil(8) * ch.div_ceil(8))
    } else {
        let comps = scan_comps
            .iter()
            .map(|&(h, v, dc, ac)| ScanComponent { h, v, dc, ac })
            .collect();
        (
            comps,
            width.div_ceil(8 * h_max) * height.div_ceil(8 * v_max),
        )
    };
    let data = &jpeg[scan_start..];
    let old: [Option<Codes>; 8] = std::array::from_fn(|i| tables[i].as_ref().map(Codes::new));

    let mut freq = [[0u64; 256]; 8];
    walk(data, &comps, mcus, &old, |t, sym, _, _| {
        freq[t][usize::from(sym)] += 1
    })?;
    let mut new_tables: [Option<Table>; 8] = Default::default();
    for (t, table) in tables.iter().enumerate() {
        if table.is_none() {
            continue;
        }
        // A table no symbol uses keeps its old codes.
        new_tables[t] = if freq[t].iter().all(|&f| f == 0) {
            table.clone()
        } else {
            Some(optimal_table(&freq[t])?)
        };
    }
    let new: [Option<Codes>; 8] = std::array::from_fn(|i| new_tables[i].as_ref().map(Codes::new));

    let mut w = BitWriter {
        out: Vec::with_capacity(data.len()),
        acc: 0,
        count: 0,
    };
    walk(data, &comps, mcus, &old, |t, sym, extra, n| {
        if let Some(codes) = &new[t] {
            let (code, len) = codes.by_symbol[usize::from(sym)];
            w.put(u32::from(code), len);
            w.put(extra, n);
        }
    })?;
    let entropy = w.finish();

    let mut out = Vec::with_capacity(entropy.len() + 1024);
    let (sos, before_sos) = kept.split_last()?;
    for seg in before_sos {
        out.extend_from_slice(seg);
    }
    for (t, table) in new_tables.iter().enumerate() {
        let Some(table) = table else { continue };
        let len = 2 + 1 + 16 + table.values.len();
        out.extend_from_slice(&[0xFF, 0xC4]);
        out.extend_from_slice(&(len as u16).to_be_bytes());
        out.push(((t / 4) as u8) << 4 | (t % 4) as u8);
        out.extend_from_slice(&table.bits);
        out.extend_from_slice(&table.values);
    }
    out.extend_from_slice(sos);
    out.extend_from_slice(&entropy);
    out.extend_from_slice(&[0xFF, 0xD9]);
    (out.len() < jpeg.len()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaves_alone_what_it_does_not_handle() {
        assert!(optimise(b"not a jpeg").is_none());
        // A progressive JPEG (SOF2): its scans code coefficient bands, not whole blocks.
        let grey = image::GrayImage::from_fn(64, 48, |x, y| image::Luma([(x * 3 + y * 2) as u8]));
        let mut progressive = Vec::new();
        let mut encoder = jpeg_encoder::Encoder::new(&mut progressive, 75);
        encoder.set_progressive(true);
        encoder
            .encode(grey.as_raw(), 64, 48, jpeg_encoder::ColorType::Luma)
            .unwrap();
        assert!(optimise(&progressive).is_none());
        // A baseline JPEG cut short: the walk runs out of data.
        let mut baseline = Vec::new();
        jpeg_encoder::Encoder::new(&mut baseline, 75)
            .encode(grey.as_raw(), 64, 48, jpeg_encoder::ColorType::Luma)
            .unwrap();
        assert!(optimise(&baseline[..baseline.len() / 2]).is_none());
    }

    #[test]
    fn optimal_tables_are_prefix_codes_within_16_bits() {
        // Counts in powers of two make a Huffman tree 30 deep, past the 16 bits JPEG allows,
        // so the limit has to move codes up.
        let mut freq = [0u64; 256];
        for (i, f) in freq.iter_mut().enumerate().take(30) {
            *f = 1 << i;
        }
        let table = optimal_table(&freq).unwrap();
        assert_eq!(table.values.len(), 30);
        let total: usize = table.bits.iter().map(|&b| usize::from(b)).sum();
        assert_eq!(total, 30);
        // Kraft: the codes fit in a binary tree, with room for the reserved all-ones code.
        let kraft: f64 = table
            .bits
            .iter()
            .enumerate()
            .map(|(len, &n)| f64::from(n) / f64::from(1u32 << (len + 1)))
            .sum();
        assert!(kraft < 1.0, "Kraft sum {kraft}");
        // The most frequent symbol gets the shortest code.
        assert_eq!(table.values[0], 29);
    }
}
