"""Settings read from the environment, and keeping database passwords out of sight."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coachos.settings import DEFAULT_DATABASE_URL, Settings, redact_url

POSTGRES = "postgresql+psycopg://coach:s3cr3t@db.internal:5432/coachos"


class TestFromEnv:
    """Building settings from COACHOS_* variables."""

    def test_empty_environment_gives_the_defaults(self) -> None:
        """With nothing set, Coach OS runs on the embedded SQLite file with console logs at INFO."""
        settings = Settings.from_env({})
        assert settings == Settings()
        assert settings.database_url == DEFAULT_DATABASE_URL == "sqlite:///coachos.db"
        assert settings.db_pool_size == 10
        assert settings.worker_threads == 16
        assert settings.log_format == "console"
        assert settings.log_level == "INFO"

    def test_reads_every_variable(self) -> None:
        """Each COACHOS_* variable overrides its default."""
        settings = Settings.from_env(
            {
                "COACHOS_DATABASE_URL": POSTGRES,
                "COACHOS_DB_POOL_SIZE": "4",
                "COACHOS_WORKER_THREADS": "2",
                "COACHOS_LOG_FORMAT": "json",
                "COACHOS_LOG_LEVEL": "debug",
            }
        )
        assert settings == Settings(
            database_url=POSTGRES, db_pool_size=4, worker_threads=2, log_format="json", log_level="DEBUG"
        )

    def test_trims_values(self) -> None:
        """Spaces around values are ignored."""
        settings = Settings.from_env(
            {"COACHOS_DATABASE_URL": f"  {POSTGRES} ", "COACHOS_DB_POOL_SIZE": " 7 ", "COACHOS_LOG_FORMAT": " json "}
        )
        assert settings.database_url == POSTGRES
        assert settings.db_pool_size == 7
        assert settings.log_format == "json"

    @pytest.mark.parametrize(
        "name",
        [
            "COACHOS_DATABASE_URL",
            "COACHOS_DB_POOL_SIZE",
            "COACHOS_WORKER_THREADS",
            "COACHOS_LOG_FORMAT",
            "COACHOS_LOG_LEVEL",
        ],
    )
    @pytest.mark.parametrize("blank", ["", "   "])
    def test_blank_values_mean_the_default(self, name: str, blank: str) -> None:
        """A variable set to nothing or only spaces takes its default."""
        assert Settings.from_env({name: blank}) == Settings()

    def test_ignores_unrelated_variables(self) -> None:
        """Variables without the COACHOS_ prefix make no difference."""
        assert Settings.from_env({"DATABASE_URL": POSTGRES, "LOG_LEVEL": "DEBUG"}) == Settings()

    @pytest.mark.parametrize("name", ["COACHOS_DB_POOL_SIZE", "COACHOS_WORKER_THREADS"])
    @pytest.mark.parametrize("raw", ["ten", "1.5", "4 threads", "0x10"])
    def test_refuses_numbers_that_are_not_whole(self, name: str, raw: str) -> None:
        """A count that is not a whole number is refused, naming the variable and quoting the value."""
        with pytest.raises(ValueError, match=f"{name} must be a whole number, not '{raw}'"):
            Settings.from_env({name: raw})

    @pytest.mark.parametrize("name", ["COACHOS_DB_POOL_SIZE", "COACHOS_WORKER_THREADS"])
    @pytest.mark.parametrize("raw", ["0", "-3"])
    def test_refuses_counts_below_one(self, name: str, raw: str) -> None:
        """A count of zero or less is refused, naming the variable and the minimum."""
        with pytest.raises(ValueError, match=f"{name} must be at least 1"):
            Settings.from_env({name: raw})

    @given(st.integers(min_value=1, max_value=10_000))
    def test_accepts_any_positive_count(self, count: int) -> None:
        """Any positive whole number is taken as the pool size."""
        assert Settings.from_env({"COACHOS_DB_POOL_SIZE": str(count)}).db_pool_size == count

    @pytest.mark.parametrize("raw", ["text", "yaml", "JSON-lines", "pretty"])
    def test_refuses_an_unknown_log_format(self, raw: str) -> None:
        """A log format other than console or json is refused, listing both and quoting the value."""
        with pytest.raises(ValueError, match=f"COACHOS_LOG_FORMAT must be 'console' or 'json', not '{raw}'"):
            Settings.from_env({"COACHOS_LOG_FORMAT": raw})

    @pytest.mark.parametrize(("raw", "level"), [("debug", "DEBUG"), ("Warning", "WARNING"), (" error ", "ERROR")])
    def test_upper_cases_the_log_level(self, raw: str, level: str) -> None:
        """The log level is trimmed and upper-cased."""
        assert Settings.from_env({"COACHOS_LOG_LEVEL": raw}).log_level == level

    @pytest.mark.parametrize("raw", ["loud", "verbose", "5"])
    def test_refuses_an_unknown_log_level(self, raw: str) -> None:
        """A level logging does not know is refused at start-up, quoting the value."""
        with pytest.raises(ValueError, match=f"COACHOS_LOG_LEVEL must be a level such as DEBUG.*not '{raw.upper()}'"):
            Settings.from_env({"COACHOS_LOG_LEVEL": raw})

    def test_reads_the_process_environment_by_default(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without a mapping, the process environment is read."""
        for name in ("COACHOS_DB_POOL_SIZE", "COACHOS_LOG_FORMAT", "COACHOS_LOG_LEVEL"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("COACHOS_DATABASE_URL", "memory://")
        monkeypatch.setenv("COACHOS_WORKER_THREADS", "3")
        settings = Settings.from_env()
        assert settings.database_url == "memory://"
        assert settings.worker_threads == 3


class TestDatabaseRole:
    """COACHOS_DATABASE_ROLE: the PostgreSQL role the app works as, which row-level security binds."""

    @pytest.mark.parametrize("env", [{}, {"COACHOS_DATABASE_ROLE": "  "}])
    def test_defaults_to_the_role_the_migrations_create(self, env: dict[str, str]) -> None:
        """Unset or blank, the app works as coachos_app."""
        assert Settings.from_env(env).database_role == "coachos_app"

    def test_names_another_role(self) -> None:
        """Any other role name is kept as given."""
        assert Settings.from_env({"COACHOS_DATABASE_ROLE": " web_app "}).database_role == "web_app"

    @pytest.mark.parametrize("raw", ["none", "NONE"])
    def test_none_keeps_the_connecting_user(self, raw: str) -> None:
        """'none' switches no role: the login user itself must then be a role that RLS binds."""
        assert Settings.from_env({"COACHOS_DATABASE_ROLE": raw}).database_role is None


class TestSettingsRepr:
    """Settings shown in logs and tracebacks."""

    def test_repr_hides_the_database_password(self) -> None:
        """repr shows the user and host of the database but not its password."""
        text = repr(Settings(database_url=POSTGRES))
        assert "s3cr3t" not in text
        assert "coach:***@db.internal:5432/coachos" in text

    def test_str_hides_the_database_password(self) -> None:
        """str, which f-strings use, hides the password too."""
        assert "s3cr3t" not in f"{Settings(database_url=POSTGRES)}"

    def test_the_real_url_is_still_kept(self) -> None:
        """Only the display is redacted; the setting keeps the password to connect with."""
        assert Settings(database_url=POSTGRES).database_url == POSTGRES

    def test_repr_shows_the_other_settings(self) -> None:
        """Non-secret settings appear in repr as they are."""
        text = repr(Settings(db_pool_size=3, log_format="json"))
        assert "db_pool_size=3" in text
        assert "log_format='json'" in text
        assert DEFAULT_DATABASE_URL in text


class TestRedactUrl:
    """Replacing the password in a URL."""

    @pytest.mark.parametrize(
        ("url", "shown"),
        [
            (POSTGRES, "postgresql+psycopg://coach:***@db.internal:5432/coachos"),
            ("postgresql://coach:p@ss:w/rd@localhost/db", "postgresql://coach:***@localhost/db"),
            ("redis://:s3cr3t@cache:6379/0", "redis://:***@cache:6379/0"),
        ],
    )
    def test_masks_the_password(self, url: str, shown: str) -> None:
        """The password, even one holding @, : or /, becomes *** while user and host stay."""
        assert redact_url(url) == shown

    @pytest.mark.parametrize(
        "url",
        [
            "sqlite:///coachos.db",
            "memory://",
            "postgresql://coach@localhost/db",
            "postgresql://localhost/db",
            "not a url at all",
            "",
        ],
    )
    def test_leaves_urls_without_a_password_alone(self, url: str) -> None:
        """URLs without a password, and things that are not URLs, come back unchanged."""
        assert redact_url(url) == url

    @given(st.text(min_size=1))
    def test_no_password_survives(self, password: str) -> None:
        """Whatever the password, the redacted URL is the same with *** in its place."""
        url = f"postgresql+psycopg://coach:{password}@db.internal:5432/coachos"
        assert redact_url(url) == "postgresql+psycopg://coach:***@db.internal:5432/coachos"


#: Each wait's variable, its Settings field, its default and the longest value accepted.
WAITS = [
    ("COACHOS_DB_CONNECT_TIMEOUT", "db_connect_timeout", 5.0, 60),
    ("COACHOS_DB_STATEMENT_TIMEOUT", "db_statement_timeout", 10.0, 3600),
    ("COACHOS_DB_LOCK_TIMEOUT", "db_lock_timeout", 3.0, 600),
    ("COACHOS_DB_IDLE_IN_TRANSACTION_TIMEOUT", "db_idle_in_transaction_timeout", 30.0, 3600),
    ("COACHOS_DB_POOL_TIMEOUT", "db_pool_timeout", 5.0, 60),
    ("COACHOS_SQLITE_BUSY_TIMEOUT", "sqlite_busy_timeout", 5.0, 60),
    ("COACHOS_USE_CASE_TIMEOUT", "use_case_timeout", 15.0, 3600),
    ("COACHOS_TENANT_QUEUE_TIMEOUT", "tenant_queue_timeout", 2.0, 60),
]


class TestWaitSettings:
    """The limits on every wait: database timeouts, the use case timeout and one business's share of threads."""

    @pytest.mark.parametrize(("name", "field", "default", "most"), WAITS)
    def test_defaults_are_bounded(self, name: str, field: str, default: float, most: float) -> None:
        """With nothing set, every wait has its documented, finite default."""
        assert getattr(Settings.from_env({}), field) == default

    @pytest.mark.parametrize(("name", "field", "default", "most"), WAITS)
    def test_reads_seconds_with_decimals(self, name: str, field: str, default: float, most: float) -> None:
        """A number of seconds, decimals allowed and spaces trimmed, sets the wait."""
        assert getattr(Settings.from_env({name: " 0.5 "}), field) == 0.5
        assert getattr(Settings.from_env({name: str(most)}), field) == most

    @pytest.mark.parametrize(("name", "field", "default", "most"), WAITS)
    @pytest.mark.parametrize("raw", ["0", "-1", "nan", "inf", "1e9", "ten", "5s"])
    def test_refuses_no_limit_and_nonsense(self, name: str, field: str, default: float, most: float, raw: str) -> None:
        """Zero, negative, infinite, huge or non-numeric waits are refused, naming the variable and the value."""
        with pytest.raises(ValueError, match=f"{name} must be .*'{raw}'"):
            Settings.from_env({name: raw})

    def test_the_business_share_is_read(self) -> None:
        """COACHOS_TENANT_CONCURRENCY sets one business's share of worker threads; 0 or unset means the default."""
        assert Settings.from_env({"COACHOS_TENANT_CONCURRENCY": "6"}).tenant_limit == 6
        assert Settings.from_env({"COACHOS_TENANT_CONCURRENCY": "0", "COACHOS_WORKER_THREADS": "32"}).tenant_limit == 8
        assert Settings.from_env({}).tenant_limit == 4

    @pytest.mark.parametrize("raw", ["-1", "two", "1.5", "1001"])
    def test_refuses_a_share_that_is_not_a_count(self, raw: str) -> None:
        """A share that is not a whole number from 0 to 1000 is refused."""
        with pytest.raises(ValueError, match="COACHOS_TENANT_CONCURRENCY must be a whole number"):
            Settings.from_env({"COACHOS_TENANT_CONCURRENCY": raw})


class TestSendingSettings:
    def test_defaults_send_one_text_per_second_per_number(self) -> None:
        """Unset, each number sends one text a second with no burst and a five-minute claim, from no set number."""
        settings = Settings.from_env({})
        assert (settings.sms_rate_per_second, settings.sms_burst, settings.send_lease_seconds) == (1.0, 1, 300.0)
        assert settings.sms_from is None

    def test_reads_the_sending_variables(self) -> None:
        """COACHOS_SMS_FROM, _SMS_RATE_PER_SECOND, _SMS_BURST and _SEND_LEASE_SECONDS are read."""
        settings = Settings.from_env(
            {
                "COACHOS_SMS_FROM": " +15005550006 ",
                "COACHOS_SMS_RATE_PER_SECOND": "0.5",
                "COACHOS_SMS_BURST": "3",
                "COACHOS_SEND_LEASE_SECONDS": "60",
            }
        )
        assert (settings.sms_from, settings.sms_rate_per_second, settings.sms_burst, settings.send_lease_seconds) == (
            "+15005550006",
            0.5,
            3,
            60.0,
        )

    @pytest.mark.parametrize("raw", ["0", "-1", "fast", "nan", "20000"])
    def test_refuses_a_rate_that_is_not_a_sensible_number(self, raw: str) -> None:
        """A rate of zero, below zero, unreadable or beyond any provider is refused with the variable's name."""
        with pytest.raises(ValueError, match="COACHOS_SMS_RATE_PER_SECOND"):
            Settings.from_env({"COACHOS_SMS_RATE_PER_SECOND": raw})


class TestStripeWebhookSettings:
    def test_reads_the_secrets_and_tolerance(self) -> None:
        """Both endpoints' signing secrets and the tolerance come from COACHOS_STRIPE_* variables."""
        settings = Settings.from_env(
            {
                "COACHOS_STRIPE_WEBHOOK_SECRET": " whsec_platform ",
                "COACHOS_STRIPE_CONNECT_WEBHOOK_SECRET": "whsec_connect",
                "COACHOS_STRIPE_WEBHOOK_TOLERANCE": "120",
            }
        )
        assert settings.stripe_webhook_secret == "whsec_platform"
        assert settings.stripe_connect_webhook_secret == "whsec_connect"
        assert settings.stripe_webhook_tolerance == 120

    def test_unset_means_no_secret_and_stripes_tolerance(self) -> None:
        """Without the variables there is no secret (the webhook answers 503) and the tolerance is 300 s."""
        settings = Settings.from_env({})
        assert settings.stripe_webhook_secret is None
        assert settings.stripe_connect_webhook_secret is None
        assert settings.stripe_webhook_tolerance == 300

    def test_repr_hides_the_secrets(self) -> None:
        """The signing secrets never appear in repr (settings are logged at start-up)."""
        text = repr(Settings(stripe_webhook_secret="whsec_a", stripe_connect_webhook_secret="whsec_b"))
        assert "whsec_a" not in text
        assert "whsec_b" not in text

    def test_refuses_a_tolerance_that_is_not_whole(self) -> None:
        """A tolerance that is not a whole number of seconds is refused, naming the variable."""
        with pytest.raises(ValueError, match="COACHOS_STRIPE_WEBHOOK_TOLERANCE"):
            Settings.from_env({"COACHOS_STRIPE_WEBHOOK_TOLERANCE": "5m"})
