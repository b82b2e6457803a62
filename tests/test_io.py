"""Reading maps in every supported form, and pairing predictions with GT stems."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from dbdbench.io import ImageReadError, pair_predictions, read_map, resize_to, write_map


@pytest.fixture
def gray():
    return (np.arange(12 * 16).reshape(12, 16) % 256).astype(np.uint8)


def test_png_8_and_16_bit(tmp_path, gray):
    cv2.imwrite(str(tmp_path / "a.png"), gray)
    cv2.imwrite(str(tmp_path / "b.png"), gray.astype(np.uint16) * 257)
    assert np.array_equal(read_map(tmp_path / "a.png"), gray)
    b = read_map(tmp_path / "b.png")
    assert b.dtype == np.uint16 and np.array_equal(b, gray.astype(np.uint16) * 257)


def test_rgb_with_equal_channels_reads_as_gray(tmp_path, gray):
    cv2.imwrite(str(tmp_path / "a.png"), np.dstack([gray] * 3))
    cv2.imwrite(str(tmp_path / "b.png"), np.dstack([gray] * 3 + [np.full_like(gray, 255)]))
    assert np.array_equal(read_map(tmp_path / "a.png"), gray)
    assert np.array_equal(read_map(tmp_path / "b.png"), gray)


def test_colour_map_is_an_error_unless_luminance(tmp_path, gray):
    colour = np.dstack([gray, 255 - gray, gray // 2])
    cv2.imwrite(str(tmp_path / "c.png"), colour)
    with pytest.raises(ImageReadError, match="c.png.*colour"):
        read_map(tmp_path / "c.png")
    assert np.array_equal(read_map(tmp_path / "c.png", luminance=True), cv2.cvtColor(colour, cv2.COLOR_BGR2GRAY))


def test_transparent_rgba_is_an_error(tmp_path, gray):
    alpha = np.full_like(gray, 255)
    alpha[0, 0] = 0
    cv2.imwrite(str(tmp_path / "t.png"), np.dstack([gray] * 3 + [alpha]))
    with pytest.raises(ImageReadError, match="t.png.*transparent"):
        read_map(tmp_path / "t.png")


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("empty.png", b"", "empty file"),
        ("junk.png", b"\x89PNG not really an image IEND", "not a readable image"),
        ("cut.jpg", None, "truncated JPEG"),
        ("cut.png", None, "truncated PNG"),
    ],
)
def test_corrupt_files(tmp_path, gray, name, content, match):
    path = tmp_path / name
    if content is None:
        ok, buf = cv2.imencode(path.suffix, np.dstack([gray] * 3))
        content = buf.tobytes()[: len(buf) // 2]
    path.write_bytes(content)
    with pytest.raises(ImageReadError, match=match):
        read_map(path)


def test_npy_maps(tmp_path):
    good = np.linspace(0, 1, 20).reshape(4, 5)
    np.save(tmp_path / "g.npy", good)
    assert np.array_equal(read_map(tmp_path / "g.npy"), good)
    bad = good.copy()
    bad[1, 1] = np.nan
    np.save(tmp_path / "n.npy", bad)
    with pytest.raises(ImageReadError, match="n.npy.*NaN"):
        read_map(tmp_path / "n.npy")
    np.save(tmp_path / "r.npy", good * 2)
    with pytest.raises(ImageReadError, match=r"r.npy.*\[0, 1\]"):
        read_map(tmp_path / "r.npy")
    np.save(tmp_path / "d.npy", np.zeros((2, 3, 4)))
    with pytest.raises(ImageReadError, match="2-D"):
        read_map(tmp_path / "d.npy")


def test_write_map_round_trip(tmp_path):
    p = np.random.default_rng(0).random((9, 7))
    write_map(tmp_path / "m.png", p)
    assert np.array_equal(read_map(tmp_path / "m.png"), np.rint(p * 255).astype(np.uint8))
    assert not list(tmp_path.glob(".*"))


def test_resize(gray):
    out = resize_to(gray, (24, 32), "bilinear")
    assert out.shape == (24, 32) and out.dtype == np.uint8
    assert resize_to(gray, (6, 8), "nearest").shape == (6, 8)
    with pytest.raises(ValueError, match="unknown resize mode"):
        resize_to(gray, (6, 8), "cubic")


def test_pairing_case_insensitive_with_suffixes(tmp_path):
    for name in ("IMG1.PNG", "img2_pred.png", "img3_HiFSTBlurMap.png", "other.png", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    pairing = pair_predictions(tmp_path, ["img1", "img2", "img3", "img4"])
    assert {k: v.name for k, v in pairing.pairs.items()} == {
        "img1": "IMG1.PNG",
        "img2": "img2_pred.png",
        "img3": "img3_HiFSTBlurMap.png",
    }
    assert pairing.missing == ["img4"]
    assert [p.name for p in pairing.extra] == ["other.png"]


def test_pairing_duplicates_are_an_error(tmp_path):
    (tmp_path / "a.png").write_bytes(b"x")
    (tmp_path / "a_pred.png").write_bytes(b"x")
    with pytest.raises(ValueError, match="two predictions for image 'a'"):
        pair_predictions(tmp_path, ["a"])


def test_pairing_rejects_outside_symlinks(tmp_path):
    outside = tmp_path / "outside.png"
    outside.write_bytes(b"x")
    folder = tmp_path / "preds"
    folder.mkdir()
    (folder / "a.png").symlink_to(outside)
    with pytest.raises(ValueError, match="symlink"):
        pair_predictions(folder, ["a"])


def test_pairing_empty_or_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        pair_predictions(tmp_path / "nope", ["a"])
    with pytest.raises(FileNotFoundError, match="no map files"):
        pair_predictions(tmp_path, ["a"])


# ------------------------------------------------------------------------------------------ orientation tags


def _tiff_ifd(orientation: int, order: str = "<") -> bytes:
    """A TIFF structure with one IFD holding tag 274 (Orientation, SHORT), written by hand (TIFF 6.0 layout)."""
    import struct

    head = (b"II*\x00" if order == "<" else b"MM\x00*") + struct.pack(order + "I", 8)
    return head + struct.pack(order + "H", 1) + struct.pack(order + "HHIHH", 274, 3, 1, orientation, 0) + b"\0" * 4


def _tagged(ext: str, arr: np.ndarray, orientation: int) -> bytes:
    import struct
    import zlib

    ok, buf = cv2.imencode(ext, arr)
    data, tiff = buf.tobytes(), _tiff_ifd(orientation, ">" if ext == ".jpg" else "<")
    if ext == ".png":  # an eXIf chunk before IEND (the last 12 bytes)
        chunk = struct.pack(">I", len(tiff)) + b"eXIf" + tiff + struct.pack(">I", zlib.crc32(b"eXIf" + tiff))
        return data[:-12] + chunk + data[-12:]
    segment = b"Exif\x00\x00" + tiff  # an APP1 segment right after SOI
    return data[:2] + b"\xff\xe1" + struct.pack(">H", len(segment) + 2) + segment + data[2:]


@pytest.mark.parametrize("ext", [".png", ".jpg"])
def test_an_orientation_tag_is_refused_and_named(tmp_path, gray, ext):
    """Viewers turn a tagged image, OpenCV does not: any tag but "normal" is refused (a map stored turned and a
    stale tag on an upright map alike: the pixels are never turned silently)."""
    from dbdbench.io import exif_orientation

    for tag in (6, 8, 3):
        path = tmp_path / f"t{tag}{ext}"
        path.write_bytes(_tagged(ext, gray, tag))
        assert exif_orientation(path.read_bytes()) == tag
        with pytest.raises(ImageReadError, match=rf"t{tag}\{ext}: has an EXIF Orientation tag \({tag}"):
            read_map(path)
    path = tmp_path / f"normal{ext}"
    path.write_bytes(_tagged(ext, gray, 1))
    assert read_map(path).shape == gray.shape  # a "normal" tag is fine
    pil = pytest.importorskip("PIL.Image")  # an independent reader agrees on the tag
    import io

    assert pil.open(io.BytesIO(_tagged(ext, gray, 6))).getexif().get(274) == 6


def test_orientation_of_tiff_files(tmp_path, gray):
    from dbdbench.io import exif_orientation

    ok, buf = cv2.imencode(".tif", gray)
    assert exif_orientation(buf.tobytes()) == 1
    assert exif_orientation(_tiff_ifd(8)) == 8 and exif_orientation(_tiff_ifd(5, ">")) == 5
    assert exif_orientation(b"\x89PNG\r\n\x1a\n" + b"\x00" * 3) == 1  # truncated: no tag found, the reader decides


def test_colormap_inversion(tmp_path):
    """A rendering through a colormap whose 256 colours are distinct reads back exactly; another colormap is
    refused with the count of pixels far from every colour."""
    from dbdbench.io import colormap_table

    q = np.arange(256, dtype=np.uint8).reshape(16, 16)
    for name in ("magma", "bone"):
        rgb = colormap_table(name)[q]  # what plt.imsave writes for a map spanning 0..255
        cv2.imwrite(str(tmp_path / f"{name}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        assert np.array_equal(read_map(tmp_path / f"{name}.png", colormap=name), q)
    with pytest.raises(ImageReadError, match=r"bone.png: \d+ pixel\(s\) are far from every colour of the colormap"):
        read_map(tmp_path / "bone.png", colormap="magma")
    with pytest.raises(ValueError, match="unknown colormap 'magmaa'"):
        read_map(tmp_path / "bone.png", colormap="magmaa")
