#!/usr/bin/env python3
"""Visual loss of a delivered PDF at 150-dpi viewing, for scripts/bench/size.sh.

    visual.py TEST.pdf REFERENCE.pdf

Renders every page of both files at 150 dpi with poppler's pdftoppm (REFERENCE scaled to the
same pixel size only if its page size differs by a rounding), and compares them page by page
with numpy, independently of Quire's code:

- SSIM (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03) on the luma
  (BT.601) of each page, averaged over the page;
- PSNR over all channels.

Prints one line: "ssim_min ssim_mean psnr_min_db psnr_mean_db pages". REFERENCE is the same
page as the tool produced it but encoded losslessly (or as near as the tool allows; size.sh
says which), so the figures measure what the tool's image encoding lost, not its deskewing.
"""

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

DPI = 150


def read_ppm(path):
    data = Path(path).read_bytes()
    # P6 (RGB) or P5 (grey): magic, width, height, maxval, one whitespace, then samples.
    fields = []
    pos = 0
    while len(fields) < 4:
        while data[pos : pos + 1].isspace():
            pos += 1
        if data[pos : pos + 1] == b"#":
            pos = data.index(b"\n", pos) + 1
            continue
        end = pos
        while not data[end : end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    pos += 1
    magic, w, h = fields[0], int(fields[1]), int(fields[2])
    channels = 3 if magic == b"P6" else 1
    pixels = np.frombuffer(data, dtype=np.uint8, count=w * h * channels, offset=pos)
    return pixels.reshape(h, w, channels).astype(np.float64)


def render_all(pdf, out_prefix):
    subprocess.run(["pdftoppm", "-r", str(DPI), str(pdf), str(out_prefix)], check=True)
    return sorted(Path(out_prefix).parent.glob(Path(out_prefix).name + "-*.ppm"))


def render_page(pdf, n, prefix, how):
    subprocess.run(["pdftoppm", "-f", str(n), "-l", str(n)] + how + [str(pdf), str(prefix)],
                   check=True)
    (path,) = sorted(Path(prefix).parent.glob(Path(prefix).name + "-*.ppm"))
    return path


def gaussian_kernel(size=11, sigma=1.5):
    x = np.arange(size) - size // 2
    k = np.exp(-(x**2) / (2 * sigma**2))
    return k / k.sum()


def blur(img, k):
    # Separable convolution, 'valid' region only, as the reference SSIM code does.
    rows = np.apply_along_axis(lambda r: np.convolve(r, k, mode="valid"), 1, img)
    return np.apply_along_axis(lambda c: np.convolve(c, k, mode="valid"), 0, rows)


def ssim(a, b):
    k = gaussian_kernel()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_a, mu_b = blur(a, k), blur(b, k)
    var_a = blur(a * a, k) - mu_a**2
    var_b = blur(b * b, k) - mu_b**2
    cov = blur(a * b, k) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / (
        (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    )
    return float(s.mean())


def luma(img):
    if img.shape[2] == 1:
        return img[:, :, 0]
    return 0.299 * img[:, :, 0] + 0.587 * img[:, :, 1] + 0.114 * img[:, :, 2]


def psnr(a, b):
    mse = float(((a - b) ** 2).mean())
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def main():
    test, ref = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as tmp:
        tests = render_all(test, Path(tmp) / "t")
        ssims, psnrs = [], []
        for n, t_path in enumerate(tests, start=1):
            t = read_ppm(t_path)
            h, w = t.shape[:2]
            r_path = render_page(ref, n, Path(tmp) / f"r{n}", ["-r", str(DPI)])
            r = read_ppm(r_path)
            if r.shape != t.shape:
                # Page sizes that differ by a rounding: scale to the same pixels instead. Not
                # the first choice, since a fractional scale moves bilevel edges by a pixel.
                r_path.unlink()
                r_path = render_page(ref, n, Path(tmp) / f"s{n}",
                                     ["-scale-to-x", str(w), "-scale-to-y", str(h)])
                r = read_ppm(r_path)
            if r.shape != t.shape:
                sys.exit(f"page {n}: rendered {t.shape} vs reference {r.shape}")
            ssims.append(ssim(luma(t), luma(r)))
            psnrs.append(psnr(t, r))
            t_path.unlink()
            r_path.unlink()
    print(
        f"{min(ssims):.4f} {sum(ssims) / len(ssims):.4f} "
        f"{min(psnrs):.2f} {sum(psnrs) / len(psnrs):.2f} {len(ssims)}"
    )


if __name__ == "__main__":
    main()
