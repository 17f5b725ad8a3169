"""One home per fact: the course's environment variables are parsed once, in constants."""

from ossllm_helpers import constants


def test_settings_are_parsed_once_and_re_read_on_request(monkeypatch):
    monkeypatch.setenv(constants.ENV_LAB_AUTOPLAY, "yes")
    monkeypatch.setenv(constants.ENV_EXCHANGE, "/srv/exchange")
    first = constants.settings()
    assert first.lab_autoplay is True and first.exchange == "/srv/exchange"
    monkeypatch.setenv(constants.ENV_LAB_AUTOPLAY, "0")
    assert constants.settings() is first  # parsed once: a later change is not seen ...
    constants.settings.cache_clear()
    assert constants.settings().lab_autoplay is False  # ... until asked to read again


def test_unset_and_empty_variables_are_defaults(monkeypatch):
    monkeypatch.delenv(constants.ENV_LAB_AUTOPLAY, raising=False)
    monkeypatch.setenv(constants.ENV_EXCHANGE, "")
    assert constants.settings() == constants.Settings(lab_autoplay=False, exchange=None)
