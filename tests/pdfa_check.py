#!/usr/bin/env python3
"""Checks a PDF against the PDF/A-2b clauses Quire claims, one by one, with an independent
reader: pikepdf (qpdf) for the PDF, xml.etree for the XMP, a small reader of TrueType tables
for the font widths, and `qpdf --check`. Nothing here shares code with Quire's writer.

This is NOT a full PDF/A validator (veraPDF cannot be installed here): README, "PDF/A-2b",
lists what is checked and what is not.

Usage: pdfa_check.py FILE.pdf [--expect-intent rgb|grey]
Prints one line per clause, `ok <clause>: ...` or `FAIL <clause>: ...`, and exits 1 when any
clause fails.
"""

import datetime
import re
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET

import pikepdf
from pikepdf import Array, Dictionary, Name, Stream

NS = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "pdfaid": "http://www.aiim.org/pdfa/ns/id/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "pdf": "http://ns.adobe.com/pdf/1.3/",
    "pdfaExtension": "http://www.aiim.org/pdfa/ns/extension/",
    "pdfaSchema": "http://www.aiim.org/pdfa/ns/schema#",
    "pdfaProperty": "http://www.aiim.org/pdfa/ns/property#",
    "pdfaType": "http://www.aiim.org/pdfa/ns/type#",
    "pdfaField": "http://www.aiim.org/pdfa/ns/field#",
}
# Schemas PDF/A-2 predefines (the XMP specification's own, ISO 19005's): properties in any
# other namespace need an extension schema in the packet (ISO 19005-2, 6.6.2.3).
PREDEFINED = {
    NS["dc"], NS["xmp"], NS["pdf"], NS["pdfaid"],
    "http://ns.adobe.com/xap/1.0/mm/", "http://ns.adobe.com/xap/1.0/rights/",
    "http://ns.adobe.com/xap/1.0/t/pg/", "http://ns.adobe.com/xap/1.0/bj/",
    "http://ns.adobe.com/photoshop/1.0/", "http://ns.adobe.com/exif/1.0/",
    "http://ns.adobe.com/tiff/1.0/", "http://ns.adobe.com/xap/1.0/sType/ResourceEvent#",
    "http://ns.adobe.com/xap/1.0/sType/ResourceRef#", "http://ns.adobe.com/xap/1.0/sType/Version#",
    NS["pdfaExtension"], NS["pdfaSchema"], NS["pdfaProperty"], NS["pdfaType"], NS["pdfaField"],
}

results = []


def report(clause, ok, detail):
    results.append((clause, ok))
    print(f"{'ok  ' if ok else 'FAIL'} {clause}: {detail}")


def check(clause):
    """Runs a clause's function; an exception in it fails that clause alone."""
    def wrap(fn):
        def run(*args):
            try:
                ok, detail = fn(*args)
            except Exception as e:  # noqa: BLE001 - any surprise is that clause's failure
                ok, detail = False, f"could not be checked: {type(e).__name__}: {e}"
            report(clause, ok, detail)
        return run
    return wrap


def all_objects(pdf):
    for obj in pdf.objects:
        if isinstance(obj, (Dictionary, Stream)):
            yield obj


def dict_of(obj):
    return obj.stream_dict if isinstance(obj, Stream) else obj


def walk_page_resources(pdf):
    """(resources, content streams) of every page and, recursively, of its form XObjects."""
    seen = set()
    out = []

    def visit(resources, contents):
        out.append((resources, contents))
        if resources is None or "/XObject" not in resources:
            return
        for _, xo in resources.XObject.items():
            if xo.get("/Subtype") == "/Form" and xo.objgen not in seen:
                seen.add(xo.objgen)
                visit(xo.get("/Resources"), [xo])

    for page in pdf.pages:
        contents = page.obj.get("/Contents")
        streams = list(contents) if isinstance(contents, Array) else [contents] if contents else []
        visit(page.obj.get("/Resources"), streams)
    return out


# --- file structure -----------------------------------------------------------------------

@check("header")
def header(raw):
    m = re.match(rb"%PDF-1\.([0-7])\r?\n%([\x80-\xff]{4})", raw)
    return bool(m), (f"version 1.{m.group(1).decode()} with a binary comment line" if m
                     else f"starts {raw[:20]!r}: not %PDF-1.0..1.7 and a 4-byte binary comment")


@check("file-identifier")
def file_identifier(pdf):
    ids = pdf.trailer.get("/ID")
    ok = isinstance(ids, Array) and len(ids) == 2 and all(len(bytes(i)) > 0 for i in ids)
    return ok, ("trailer /ID of two strings" if ok else f"trailer /ID is {ids!r}")


@check("no-encryption")
def no_encryption(pdf):
    return "/Encrypt" not in pdf.trailer and not pdf.is_encrypted, "no /Encrypt in the trailer"


@check("qpdf-check")
def qpdf_check(path):
    run = subprocess.run(["qpdf", "--check", path], capture_output=True, text=True)
    ok = run.returncode == 0 and "No syntax or stream encoding errors" in run.stdout
    return ok, ("qpdf --check: no errors" if ok else
                f"qpdf --check exit {run.returncode}: {(run.stdout + run.stderr)[-400:]}")


# --- OutputIntent -------------------------------------------------------------------------

def pdfa_intent(pdf):
    for oi in pdf.Root.get("/OutputIntents", []):
        if oi.get("/S") == "/GTS_PDFA1":
            return oi
    return None


def icc_header(data):
    size, = struct.unpack(">I", data[0:4])
    return {
        "size": size,
        "major": data[8],
        "minor": data[9] >> 4,
        "class": data[12:16],
        "space": data[16:20],
        "pcs": data[20:24],
        "magic": data[36:40],
    }


@check("output-intent")
def output_intent(pdf, expect):
    oi = pdfa_intent(pdf)
    if oi is None:
        return False, "no /OutputIntents entry with /S /GTS_PDFA1"
    if not isinstance(oi.get("/OutputConditionIdentifier"), pikepdf.String):
        return False, "no /OutputConditionIdentifier string"
    prof = oi.get("/DestOutputProfile")
    if not isinstance(prof, Stream):
        return False, "no /DestOutputProfile stream"
    data = prof.read_bytes()
    h = icc_header(data)
    n = int(prof.stream_dict.get("/N", 0))
    spaces = {b"RGB ": 3, b"GRAY": 1, b"CMYK": 4}
    problems = []
    if h["magic"] != b"acsp":
        problems.append("not an ICC profile (no 'acsp')")
    if h["size"] != len(data):
        problems.append(f"header size {h['size']} but {len(data)} bytes")
    if h["space"] not in spaces or spaces[h["space"]] != n:
        problems.append(f"colour space {h['space']!r} with /N {n}")
    if h["class"] not in (b"mntr", b"prtr", b"scnr"):
        problems.append(f"profile class {h['class']!r} (an output intent needs mntr/prtr/scnr)")
    if (h["major"], h["minor"]) > (4, 2):
        problems.append(f"ICC version {h['major']}.{h['minor']} is newer than PDF 1.7's 4.2")
    # A second, independent parse of the whole profile: Little CMS as Pillow bundles it.
    try:
        import io
        from PIL import ImageCms
        ImageCms.getOpenProfile(io.BytesIO(data))
    except ImportError:
        pass
    except Exception as e:  # noqa: BLE001
        problems.append(f"Pillow cannot read the profile: {e}")
    want = {"rgb": b"RGB ", "grey": b"GRAY"}.get(expect)
    if want and h["space"] != want:
        problems.append(f"expected a {expect} profile, found {h['space']!r}")
    kind = h["space"].decode().strip()
    return not problems, ("; ".join(problems) if problems else
                          f"GTS_PDFA1, {kind} ICC v{h['major']}.{h['minor']} profile, /N {n}")


# --- XMP ----------------------------------------------------------------------------------

def xmp_of(pdf):
    meta = pdf.Root.get("/Metadata")
    return meta, (meta.read_bytes() if isinstance(meta, Stream) else None)


@check("xmp-metadata")
def xmp_metadata(pdf):
    meta, data = xmp_of(pdf)
    if data is None:
        return False, "no /Metadata stream in the catalog"
    d = meta.stream_dict
    problems = []
    if d.get("/Type") != "/Metadata" or d.get("/Subtype") != "/XML":
        problems.append("not /Type /Metadata /Subtype /XML")
    if "/Filter" in d:
        problems.append(f"compressed ({d.Filter}); PDF/A wants it readable as is")
    text = data.decode("utf-8")
    if not re.search(r"<\?xpacket begin=", text) or "<?xpacket end=" not in text:
        problems.append("no xpacket header and trailer")
    root = ET.fromstring(re.sub(r"<\?xpacket[^>]*\?>", "", text).strip())
    part = xmp_value(root, "pdfaid", "part")
    conf = xmp_value(root, "pdfaid", "conformance")
    if part != "2" or conf != "B":
        problems.append(f"pdfaid:part {part!r}, pdfaid:conformance {conf!r} (want 2, B)")
    return not problems, ("; ".join(problems) if problems else
                          "uncompressed XMP packet, pdfaid:part 2, pdfaid:conformance B")


def descriptions(root):
    return root.iter(f"{{{NS['rdf']}}}Description")


def xmp_value(root, prefix, name):
    """A simple property's value, written as an element or as an attribute."""
    tag = f"{{{NS[prefix]}}}{name}"
    for desc in descriptions(root):
        if tag in desc.attrib:
            return desc.attrib[tag]
        el = desc.find(tag)
        if el is not None:
            li = el.find(f".//{{{NS['rdf']}}}li")
            return (li.text if li is not None else el.text) or ""
    return None


def info_date(s):
    """A PDF date (D:YYYYMMDDHHmmSSOHH'mm') as an aware datetime."""
    m = re.match(r"D:(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(Z|[+-]\d{2}'?\d{2}'?)?", s)
    parts = [int(g) if g else d for g, d in zip(m.groups()[:6], (0, 1, 1, 0, 0, 0))]
    tz = m.group(7)
    if tz in (None, "Z"):
        off = datetime.timezone.utc
    else:
        sign = -1 if tz[0] == "-" else 1
        hh, mm = int(tz[1:3]), int(tz.replace("'", "")[3:5] or 0)
        off = datetime.timezone(sign * datetime.timedelta(hours=hh, minutes=mm))
    return datetime.datetime(*parts, tzinfo=off)


def xmp_date(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


@check("xmp-matches-info")
def xmp_matches_info(pdf):
    _, data = xmp_of(pdf)
    if data is None:
        return False, "no XMP packet to compare with"
    root = ET.fromstring(re.sub(r"<\?xpacket[^>]*\?>", "", data.decode("utf-8")).strip())
    info = pdf.trailer.get("/Info") or Dictionary()
    pairs = [("/Title", "dc", "title"), ("/Author", "dc", "creator"),
             ("/Subject", "dc", "description"), ("/Keywords", "pdf", "Keywords"),
             ("/Creator", "xmp", "CreatorTool"), ("/Producer", "pdf", "Producer")]
    problems, compared = [], []
    for key, prefix, name in pairs:
        if key in info:
            x = xmp_value(root, prefix, name)
            if x != str(info[key]):
                problems.append(f"Info {key} {str(info[key])!r} but {prefix}:{name} {x!r}")
            compared.append(key[1:])
    for key, name in [("/CreationDate", "CreateDate"), ("/ModDate", "ModifyDate")]:
        if key in info:
            x = xmp_value(root, "xmp", name)
            if x is None or info_date(str(info[key])) != xmp_date(x):
                problems.append(f"Info {key} {str(info[key])} but xmp:{name} {x}")
            compared.append(key[1:])
    return not problems, ("; ".join(problems) if problems else
                          f"the same values in Info and XMP: {', '.join(compared)}")


@check("xmp-schemas")
def xmp_schemas(pdf):
    _, data = xmp_of(pdf)
    if data is None:
        return False, "no XMP packet to compare with"
    root = ET.fromstring(re.sub(r"<\?xpacket[^>]*\?>", "", data.decode("utf-8")).strip())
    described = {el.text for el in root.iter(f"{{{NS['pdfaSchema']}}}namespaceURI")}
    used = set()
    for desc in descriptions(root):
        for name in list(desc.attrib) + [child.tag for child in desc]:
            if name.startswith("{") and not name.startswith(f"{{{NS['rdf']}}}"):
                used.add(name[1:].split("}")[0])
    missing = sorted(used - PREDEFINED - described)
    return not missing, (f"properties of namespaces without an extension schema: {missing}"
                         if missing else "every property is predefined or has an extension schema")


# --- fonts --------------------------------------------------------------------------------

def fonts_in_use(pdf):
    """Every font object in a page's (or form's) resources, with the codes its text shows."""
    fonts = {}
    for resources, contents in walk_page_resources(pdf):
        font_res = resources.get("/Font", {}) if resources is not None else {}
        current = None
        for stream in contents:
            for operands, op in pikepdf.parse_content_stream(stream):
                op = str(op)
                if op == "Tf" and str(operands[0]) in font_res:
                    current = font_res[str(operands[0])]
                    fonts.setdefault(current.objgen, (current, set()))
                elif op in ("Tj", "'", '"', "TJ") and current is not None:
                    strings = operands[-1] if op == "TJ" else [operands[-1]]
                    for s in strings:
                        if isinstance(s, pikepdf.String):
                            fonts[current.objgen][1].add(bytes(s))
        for _, font in font_res.items():
            fonts.setdefault(font.objgen, (font, set()))
    return list(fonts.values())


@check("fonts-embedded")
def fonts_embedded(pdf):
    missing, count = [], 0
    for font, _ in fonts_in_use(pdf):
        count += 1
        if font.get("/Subtype") == "/Type3":
            continue
        target = font.DescendantFonts[0] if font.get("/Subtype") == "/Type0" else font
        desc = target.get("/FontDescriptor")
        if desc is None or not any(k in desc for k in ("/FontFile", "/FontFile2", "/FontFile3")):
            missing.append(str(font.get("/BaseFont")))
    return not missing, (f"not embedded: {missing}" if missing else
                         f"all {count} fonts embedded (invisible text included)")


def ttf_advances(data):
    """unitsPerEm and the advance width of every glyph, from a TrueType font's tables."""
    num_tables, = struct.unpack(">H", data[4:6])
    tables = {}
    for i in range(num_tables):
        tag, _, off, length = struct.unpack(">4sIII", data[12 + 16 * i: 28 + 16 * i])
        tables[tag] = data[off: off + length]
    upem, = struct.unpack(">H", tables[b"head"][18:20])
    n_metrics, = struct.unpack(">H", tables[b"hhea"][34:36])
    num_glyphs, = struct.unpack(">H", tables[b"maxp"][4:6])
    hmtx = tables[b"hmtx"]
    adv = [struct.unpack(">H", hmtx[4 * i: 4 * i + 2])[0] for i in range(n_metrics)]
    adv += [adv[-1]] * (num_glyphs - n_metrics)
    return upem, adv


def cid_widths(cid_font):
    dw = float(cid_font.get("/DW", 1000))
    widths = {}
    w = list(cid_font.get("/W", []))
    i = 0
    while i < len(w):
        first = int(w[i])
        if isinstance(w[i + 1], Array):
            for k, v in enumerate(w[i + 1]):
                widths[first + k] = float(v)
            i += 2
        else:
            for c in range(first, int(w[i + 1]) + 1):
                widths[c] = float(w[i + 2])
            i += 3
    return lambda cid: widths.get(cid, dw)


@check("font-widths")
def font_widths(pdf):
    """Each shown character's width in the dictionary is its glyph's in the embedded program
    (ISO 19005-2, 6.2.11.5), within one unit of 1/1000 em, as validators allow."""
    problems, checked = [], 0
    for font, shown in fonts_in_use(pdf):
        if font.get("/Subtype") != "/Type0":
            if font.get("/Subtype") != "/Type3" and shown:
                problems.append(f"{font.get('/BaseFont')}: a simple font (not checked here)")
            continue
        if font.get("/Encoding") != "/Identity-H":
            problems.append(f"{font.get('/BaseFont')}: encoding {font.get('/Encoding')}")
            continue
        cid_font = font.DescendantFonts[0]
        file2 = cid_font.FontDescriptor.get("/FontFile2")
        if file2 is None:
            problems.append(f"{font.get('/BaseFont')}: no FontFile2 to compare with")
            continue
        upem, adv = ttf_advances(file2.read_bytes())
        m = cid_font.get("/CIDToGIDMap", Name.Identity)
        gid_map = None if m == Name.Identity else m.read_bytes()
        width = cid_widths(cid_font)
        cids = {struct.unpack(">H", s[i:i + 2])[0] for s in shown for i in range(0, len(s) - 1, 2)}
        for cid in sorted(cids):
            gid = cid if gid_map is None else struct.unpack(">H", gid_map[2 * cid: 2 * cid + 2])[0]
            program = adv[gid] * 1000.0 / upem if gid < len(adv) else None
            checked += 1
            if program is None or abs(width(cid) - program) > 1.0:
                problems.append(f"{font.get('/BaseFont')} CID {cid}: /W {width(cid)}, "
                                f"glyph {gid} {program}")
                break
    return not problems, ("; ".join(problems[:5]) if problems else
                          f"{checked} shown CIDs: dictionary widths match the glyphs' advances")


# --- content --------------------------------------------------------------------------------

def filters_of(d):
    f = d.get("/Filter")
    return [] if f is None else [str(x) for x in f] if isinstance(f, Array) else [str(f)]


@check("no-lzw")
def no_lzw(pdf):
    bad = [o.objgen for o in pdf.objects if isinstance(o, Stream)
           and any(f in ("/LZWDecode", "/LZW") for f in filters_of(o.stream_dict))]
    return not bad, (f"LZW streams: {bad}" if bad else "no LZWDecode stream")


@check("no-javascript")
def no_javascript(pdf):
    bad = []
    names = pdf.Root.get("/Names")
    if names is not None and "/JavaScript" in names:
        bad.append("the catalog's /Names /JavaScript tree")
    for o in all_objects(pdf):
        d = dict_of(o)
        if d.get("/S") == "/JavaScript" or "/JS" in d:
            bad.append(f"action {o.objgen}")
        if "/AA" in d:
            bad.append(f"additional actions /AA in {o.objgen}")
    if "/AA" in pdf.Root or "/OpenAction" in pdf.Root and \
            pdf.Root.OpenAction.get("/S") == "/JavaScript":
        bad.append("catalog actions")
    return not bad, (f"found {bad[:5]}" if bad else "no JavaScript, no additional actions")


@check("no-external-references")
def no_external(pdf):
    bad = []
    for o in all_objects(pdf):
        d = dict_of(o)
        if isinstance(o, Stream) and any(k in d for k in ("/F", "/FFilter", "/FDecodeParms")):
            bad.append(f"external stream {o.objgen}")
        if d.get("/S") in ("/Launch", "/GoToR", "/ImportData", "/GoToE", "/Sound", "/Movie"):
            bad.append(f"{d.S} action {o.objgen}")
        if d.get("/Subtype") == "/Form" and "/Ref" in d:
            bad.append(f"reference XObject {o.objgen}")
        if "/OPI" in d:
            bad.append(f"OPI {o.objgen}")
    return not bad, (f"found {bad[:5]}" if bad else
                     "no external streams, reference XObjects or actions leaving the file")


def base_space(space):
    """The device family a colour space draws in: 'rgb', 'grey', 'cmyk', or None (ICC etc.)."""
    if isinstance(space, Array):
        if space[0] in ("/Indexed", "/I"):
            return base_space(space[1])
        return None
    return {"/DeviceRGB": "rgb", "/RGB": "rgb", "/DeviceGray": "grey", "/G": "grey",
            "/DeviceCMYK": "cmyk", "/CMYK": "cmyk"}.get(str(space))


@check("device-colour-covered")
def device_colour(pdf):
    """DeviceRGB only under an RGB intent, DeviceCMYK only under a CMYK one; DeviceGray under
    any (ISO 19005-2, 6.2.4.3). Images, and the colour operators of every content stream."""
    oi = pdfa_intent(pdf)
    n = int(oi.DestOutputProfile.get("/N", 0)) if oi is not None else 0
    allowed = {"grey": n > 0, "rgb": n == 3, "cmyk": n == 4}
    bad, seen = [], set()
    for o in pdf.objects:
        if isinstance(o, Stream) and o.stream_dict.get("/Subtype") == "/Image":
            d = o.stream_dict
            if d.get("/ImageMask"):
                continue
            fam = base_space(d.get("/ColorSpace", Name.DeviceGray))
            if fam:
                seen.add(fam)
                if not allowed[fam]:
                    bad.append(f"image {o.objgen} in {fam}")
    ops = {"rg": "rgb", "RG": "rgb", "k": "cmyk", "K": "cmyk", "g": "grey", "G": "grey"}
    for _, contents in walk_page_resources(pdf):
        for stream in contents:
            for _, op in pikepdf.parse_content_stream(stream):
                fam = ops.get(str(op))
                if fam:
                    seen.add(fam)
                    if not allowed[fam]:
                        bad.append(f"operator {op} in content {stream.objgen}")
    return not bad, (f"not covered by the intent (/N {n}): {sorted(set(bad))[:5]}" if bad else
                     f"device colour used ({', '.join(sorted(seen)) or 'none'}) is covered "
                     f"by the intent (/N {n})")


@check("no-interpolate")
def no_interpolate(pdf):
    bad = [o.objgen for o in pdf.objects if isinstance(o, Stream)
           and o.stream_dict.get("/Subtype") == "/Image"
           and bool(o.stream_dict.get("/Interpolate", False))]
    return not bad, (f"/Interpolate true on {bad}" if bad else "no image asks for /Interpolate")


@check("transparency")
def transparency(pdf):
    """Transparency is allowed in PDF/A-2 when its blending space is defined: an OutputIntent,
    or a /Group /CS on the page (6.2.10); blend modes must be standard ones; no /TR."""
    standard = {"/Normal", "/Compatible", "/Multiply", "/Screen", "/Overlay", "/Darken",
                "/Lighten", "/ColorDodge", "/ColorBurn", "/HardLight", "/SoftLight",
                "/Difference", "/Exclusion", "/Hue", "/Saturation", "/Color", "/Luminosity"}
    bad, used = [], 0
    has_intent = pdfa_intent(pdf) is not None
    for o in all_objects(pdf):
        d = dict_of(o)
        if d.get("/Type") == "/ExtGState" or "/ca" in d or "/CA" in d:
            if "/TR" in d:
                bad.append(f"/TR in {o.objgen}")
            bm = d.get("/BM")
            if bm is not None and str(bm) not in standard:
                bad.append(f"blend mode {bm}")
            if float(d.get("/ca", 1)) < 1 or float(d.get("/CA", 1)) < 1:
                used += 1
    if used and not has_intent:
        for page in pdf.pages:
            if "/CS" not in page.obj.get("/Group", {}):
                bad.append("transparency without an OutputIntent or a page /Group /CS")
                break
    return not bad, ("; ".join(bad) if bad else
                     f"{used} translucent graphics states, blending space defined")


@check("annotations")
def annotations(pdf):
    bad = []
    for page in pdf.pages:
        for a in page.obj.get("/Annots", []):
            flags = int(a.get("/F", 0))
            if a.get("/Subtype") != "/Popup" and (not flags & 4 or flags & 0b100011):
                bad.append(f"{a.get('/Subtype')} flags {flags}")
    return not bad, (f"annotations not printable or hidden: {bad[:5]}" if bad else
                     "every annotation printable and not hidden (or there are none)")


def main():
    args = sys.argv[1:]
    expect = None
    if "--expect-intent" in args:
        i = args.index("--expect-intent")
        expect = args[i + 1]
        del args[i:i + 2]
    path, = args
    raw = open(path, "rb").read()
    header(raw)
    qpdf_check(path)
    with pikepdf.open(path) as pdf:
        file_identifier(pdf)
        no_encryption(pdf)
        output_intent(pdf, expect)
        xmp_metadata(pdf)
        xmp_matches_info(pdf)
        xmp_schemas(pdf)
        fonts_embedded(pdf)
        font_widths(pdf)
        no_lzw(pdf)
        no_javascript(pdf)
        no_external(pdf)
        device_colour(pdf)
        no_interpolate(pdf)
        transparency(pdf)
        annotations(pdf)
    failed = [c for c, ok in results if not ok]
    print(f"pdfa_check: {len(results) - len(failed)} of {len(results)} clauses hold"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
