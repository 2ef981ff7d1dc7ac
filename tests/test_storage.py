"""The photo storage interface and its local-disk implementation."""

import pytest

from bot.storage import LocalStorage, StorageError, check_key, content_type

KEY = "0123456789abcdef0123456789abcdef.jpg"


@pytest.fixture
def storage(tmp_path):
    return LocalStorage(tmp_path / "media", "http://host/api/v1/photos/")


def test_saved_bytes_come_back_and_have_a_url(storage):
    storage.save(KEY, b"abc")

    assert storage.exists(KEY)
    assert storage.open(KEY) == b"abc"
    assert storage.url(KEY) == f"http://host/api/v1/photos/{KEY}"


def test_files_fan_out_under_the_root(storage, tmp_path):
    storage.save(KEY, b"abc")

    assert (tmp_path / "media" / "01" / "23" / KEY).read_bytes() == b"abc"
    assert not list((tmp_path / "media" / "01" / "23").glob(".upload-*"))


@pytest.mark.parametrize(
    "key", ["../etc/passwd", "x.jpg", KEY.upper(), KEY + "/..", "0" * 32 + ".gif", "", None]
)
def test_keys_the_api_did_not_make_are_refused(storage, key):
    with pytest.raises(StorageError):
        check_key(key)
    with pytest.raises(StorageError):
        storage.open(key)
    assert storage.exists(key) is False


def test_missing_key_is_a_storage_error(storage):
    with pytest.raises(StorageError):
        storage.open(KEY)


def test_content_type_follows_the_extension():
    assert content_type(KEY) == "image/jpeg"
    assert content_type("0" * 32 + "_t.jpg") == "image/jpeg"
    assert content_type("0" * 32 + ".webp") == "image/webp"
