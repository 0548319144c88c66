"""Users' data files: formats, every refusal with the spec key first, labels, size cap, hashes, scaling."""
import hashlib
import json
import os

import numpy as np
import pytest

from mc.data_files import DataFileError, file_sha256, preprocess, read_array


@pytest.fixture
def points():
    return np.arange(12, dtype=np.float64).reshape(4, 3) / 7.0


def refused(match):
    """``pytest.raises`` for a DataFileError whose message starts with ``model.path:``."""
    return pytest.raises(DataFileError, match=r"^model\.path: " + match)


# formats ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int16, np.bool_])
def test_npy_loads_as_c_contiguous_float64(tmp_path, points, dtype):
    data = np.asfortranarray((points * 7).astype(dtype))
    np.save(tmp_path / "x.npy", data)
    got = read_array(tmp_path / "x.npy", "model.path")
    assert got.dtype == np.float64 and got.flags.c_contiguous
    np.testing.assert_array_equal(got, data.astype(np.float64))


def test_npz_single_array_and_npz_key(tmp_path, points):
    np.savez(tmp_path / "one.npz", pts=points)
    np.testing.assert_array_equal(read_array(tmp_path / "one.npz", "model.path"), points)
    with open(tmp_path / "two.NPZ", "wb") as fh:  # a path not ending in .npz would get one added
        np.savez_compressed(fh, a=points, b=2 * points)
    np.testing.assert_array_equal(read_array(tmp_path / "two.NPZ", "model.path", npz_key="b"), 2 * points)
    with refused(r".*several arrays \['a', 'b'\]; set npz_key"):
        read_array(tmp_path / "two.NPZ", "model.path")
    with refused(r".*no array 'c' \(npz_key\); it holds \['a', 'b'\]"):
        read_array(tmp_path / "two.NPZ", "model.path", npz_key="c")


def test_csv_with_spaces_comments_and_txt(tmp_path, points):
    text = "# pixels\n" + "\n".join(" , ".join(repr(float(v)) for v in row) for row in points) + "\n\n"
    for name in ("x.csv", "x.txt"):
        (tmp_path / name).write_text(text)
        np.testing.assert_array_equal(read_array(tmp_path / name, "model.path"), points)
    (tmp_path / "col.csv").write_text("1\n2\n3\n")
    assert read_array(tmp_path / "col.csv", "model.path").shape == (3, 1)


def test_csv_header_row_is_reported_clearly(tmp_path):
    (tmp_path / "h.csv").write_text("a,b\n1,2\n")
    with refused(r".*line 1 is not numbers separated by commas \('a,b'\).*header row, remove it"):
        read_array(tmp_path / "h.csv", "model.path")
    (tmp_path / "ragged.csv").write_text("1,2\n3\n")
    with refused(r".*not a CSV file of numbers"):
        read_array(tmp_path / "ragged.csv", "model.path")


# refusals --------------------------------------------------------------------------------------
def test_missing_directory_suffix_and_corrupt_files(tmp_path, points):
    with refused(r"no such file '.*nope\.npy'"):
        read_array(tmp_path / "nope.npy", "model.path")
    with refused(r".* is a directory"):
        read_array(tmp_path, "model.path")
    (tmp_path / "x.json").write_text("[]")
    with refused(r"unsupported file type '\.json'.*\.npy, \.npz, \.csv or \.txt"):
        read_array(tmp_path / "x.json", "model.path")
    (tmp_path / "bad.npy").write_bytes(b"not numpy at all")
    with refused(r".*not a \.npy file"):
        read_array(tmp_path / "bad.npy", "model.path")
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with refused(r".*not a \.npz archive"):
        read_array(tmp_path / "bad.npz", "model.path")
    np.save(tmp_path / "cut.npy", points)
    (tmp_path / "cut.npy").write_bytes((tmp_path / "cut.npy").read_bytes()[:-8])
    with refused(r".*truncated or corrupt"):
        read_array(tmp_path / "cut.npy", "model.path")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(tmp_path, points):
    np.save(tmp_path / "x.npy", points)
    os.chmod(tmp_path / "x.npy", 0)
    with refused(r"cannot read"):
        read_array(tmp_path / "x.npy", "model.path")


def test_object_arrays_are_refused_as_code(tmp_path):
    np.save(tmp_path / "o.npy", np.array([[1, "a"]], dtype=object), allow_pickle=True)
    with refused(r".*object array .*data, never code \(allow_pickle=False\)"):
        read_array(tmp_path / "o.npy", "model.path")
    np.savez(tmp_path / "o.npz", x=np.array([[{}]], dtype=object))
    with refused(r".*object array"):
        read_array(tmp_path / "o.npz", "model.path")


@pytest.mark.parametrize(
    "data, words",
    [
        (np.array([["a", "b"]]), "strings"),
        (np.zeros((2, 2), dtype=[("x", "f8")]), "structured records"),
        (np.ones((2, 2), dtype=complex), "complex numbers"),
    ],
)
def test_non_numeric_dtypes_are_refused(tmp_path, data, words):
    np.save(tmp_path / "d.npy", data)
    with refused(rf".*holds {words} \(dtype .*\), expected real numbers"):
        read_array(tmp_path / "d.npy", "model.path")


def test_wrong_dimensions_and_empty(tmp_path):
    np.save(tmp_path / "v.npy", np.ones(5))
    with refused(r".*1-D array of shape \(5,\), expected \(n_points, N\).*shape \(n, 1\)"):
        read_array(tmp_path / "v.npy", "model.path")
    np.save(tmp_path / "img.npy", np.ones((4, 8, 8)))
    with refused(r".*3-D array .*shape \(4, 64\)"):
        read_array(tmp_path / "img.npy", "model.path")
    with pytest.raises(DataFileError, match=r"^model\.labels: .*3-D array .*expected \(n,\)"):
        read_array(tmp_path / "img.npy", "model.labels", ndim=1)
    for shape in [(0, 3), (3, 0)]:
        np.save(tmp_path / "e.npy", np.ones(shape))
        with refused(rf".*empty array of shape \({shape[0]}, {shape[1]}\)"):
            read_array(tmp_path / "e.npy", "model.path")
    (tmp_path / "e.csv").write_text("# nothing\n\n")
    with refused(r".*no numbers \(no rows\)"):
        read_array(tmp_path / "e.csv", "model.path")


def test_nan_and_inf_counted_with_first_row_and_column(tmp_path, points):
    points[1, 2] = np.nan
    points[3, 0] = -np.inf
    np.save(tmp_path / "n.npy", points)
    with refused(r".*2 NaN or infinite entries \(the first, nan, at row 1, column 2"):
        read_array(tmp_path / "n.npy", "model.path")
    (tmp_path / "n.csv").write_text("1,2\n3,inf\n")
    with refused(r".*1 NaN or infinite entry \(the first, inf, at row 1, column 1"):
        read_array(tmp_path / "n.csv", "model.path")


def test_size_cap_refuses_before_loading(tmp_path):
    np.save(tmp_path / "big.npy", np.zeros((1797, 64), dtype=np.uint8))
    cap = 0.0001 * 2**30
    with refused(r"1797 x 64 points need 0\.9 MiB as float64, above the memory cap model\.max_gib = 0\.0001 GiB"):
        read_array(tmp_path / "big.npy", "model.path", max_bytes=cap)
    assert read_array(tmp_path / "big.npy", "model.path", max_bytes=8 * 1797 * 64).shape == (1797, 64)
    np.savez(tmp_path / "big.npz", x=np.zeros((1797, 64), dtype=np.uint8))
    with refused(r"1797 x 64 points need 0\.9 MiB"):
        read_array(tmp_path / "big.npz", "model.path", max_bytes=cap)
    (tmp_path / "big.csv").write_text("0,0\n" * 10)
    with refused(r"10 x 2 points need 160 bytes"):
        read_array(tmp_path / "big.csv", "model.path", max_bytes=100)


# labels ----------------------------------------------------------------------------------------
def test_labels(tmp_path):
    np.save(tmp_path / "l.npy", np.array([0.0, 2.0, 1.0]))
    got = read_array(tmp_path / "l.npy", "model.labels", ndim=1, integer=True)
    assert got.dtype == np.int64 and got.tolist() == [0, 2, 1]
    np.save(tmp_path / "u.npy", np.array([3, 1], dtype=np.uint8))
    assert read_array(tmp_path / "u.npy", "model.labels", ndim=1, integer=True).dtype == np.int64
    (tmp_path / "l.csv").write_text("0\n1\n1\n")
    assert read_array(tmp_path / "l.csv", "model.labels", ndim=1, integer=True).tolist() == [0, 1, 1]
    np.save(tmp_path / "neg.npy", np.array([0, -1, 2, -3]))
    with pytest.raises(DataFileError, match=r"^model\.labels: .*2 negative label\(s\) \(the first, -1, at index 1.*>= 0"):
        read_array(tmp_path / "neg.npy", "model.labels", ndim=1, integer=True)
    np.save(tmp_path / "half.npy", np.array([0.0, 1.5]))
    with pytest.raises(DataFileError, match=r"^model\.labels: .*not whole numbers \(the first, 1\.5, at index 1"):
        read_array(tmp_path / "half.npy", "model.labels", ndim=1, integer=True)


# hashes ----------------------------------------------------------------------------------------
def test_sha256_matches_hashlib_and_changes_with_one_byte(tmp_path):
    path = tmp_path / "x.bin"
    data = bytearray(np.random.default_rng(0).integers(0, 256, (1 << 20) + 17, dtype=np.uint8).tobytes())
    path.write_bytes(bytes(data))
    digest = file_sha256(path)
    assert digest == hashlib.sha256(bytes(data)).hexdigest()
    data[(1 << 20) + 3] ^= 1
    path.write_bytes(bytes(data))
    assert file_sha256(path) != digest


# preprocessing ---------------------------------------------------------------------------------
def test_preprocess_matches_formula_and_reference_repeats_it(points):
    lo, hi = -1.0, 1.0
    out, record = preprocess(points, scale=(lo, hi), centre=True)
    scaled = lo + (hi - lo) * (points - points.min()) / (points.max() - points.min())
    np.testing.assert_allclose(out, scaled - scaled.mean(axis=0), atol=1e-14)
    assert json.loads(json.dumps(record)) == record
    assert record["scale"] == [lo, hi] and record["centre"] is True
    assert record["data_min"] == points.min() and record["data_max"] == points.max()

    other = 3 * points[:2] + 0.5
    again, rec2 = preprocess(other, reference=record)
    expect = lo + (hi - lo) * (other - points.min()) / (points.max() - points.min()) - scaled.mean(axis=0)
    np.testing.assert_allclose(again, expect, atol=1e-14)
    assert rec2 == record
    same, _ = preprocess(points, scale=(lo, hi), centre=True, reference=record)
    np.testing.assert_allclose(same, out, atol=1e-14)

    only_scale, rec3 = preprocess(points, scale=(0, 1))
    assert only_scale.min() == 0.0 and only_scale.max() == 1.0 and rec3["mean"] is None
    plain, rec4 = preprocess(points)
    np.testing.assert_array_equal(plain, points)
    assert rec4 == {"scale": None, "centre": False, "data_min": None, "data_max": None, "mean": None}


def test_preprocess_refusals(points):
    with pytest.raises(DataFileError, match=r"^model\.scale: .*constant array cannot be min-max scaled"):
        preprocess(np.full((3, 2), 4.0), scale=(0, 1))
    with pytest.raises(DataFileError, match=r"^model\.scale: expected \[lo, hi\] with finite lo < hi"):
        preprocess(points, scale=(1, 0))
    _, record = preprocess(points, scale=(0, 1), centre=True)
    with pytest.raises(DataFileError, match=r"^model\.scale: .*differs from the reference"):
        preprocess(points, scale=(0, 2), reference=record)
    with pytest.raises(DataFileError, match=r"^model\.centre: the reference mean has 3 coordinates, the points have dimension 2"):
        preprocess(points[:, :2], reference=record)


def test_save_array_writes_a_plain_npy_atomically(tmp_path):
    from mc.data_files import save_array

    path = tmp_path / "points.npy"
    x = np.arange(12.0).reshape(4, 3)
    save_array(path, x)
    assert np.array_equal(read_array(path, "model.path"), x)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["points.npy"]  # no temporary left
    with pytest.raises(ValueError, match="numeric"):
        save_array(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object))
    assert not (tmp_path / "objects.npy").exists()
