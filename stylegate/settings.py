"""All configuration in one pydantic-settings class (environment prefix ``STYLEGATE_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

MULTIPART_OVERHEAD_BYTES = 16 * 1024  # boundaries and part headers around one uploaded file


def default_home() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("stylegate", appauthor=False))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STYLEGATE_", extra="ignore")

    home: Path = Field(default_factory=default_home, description="where everything a run writes lives")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default SQLite in home")
    audit_url: str | None = Field(
        None, description="where the audit log lives: a postgresql:// URL or a SQLite file path; default: the "
        "registry database when database_url is PostgreSQL (schema stylegate_audit), else home/audit.db")
    index_factory: str = Field(
        "auto", description="FAISS index_factory string, or auto / auto:N: Flat up to N works (default 50000), "
        "IVF-HNSW-PQ with exact re-rank above; chosen when the index is built, kept until `stylegate index rebuild`")
    device: str = Field("auto", description="auto|cpu|cuda|mps")
    clip_model: str | None = Field(None, description="open_clip model name; default: the StyleWorld CLIP. "
                                      "styleworld-clip or styleworld-clip-s alone (no pretrained, no config): the shipped one")
    clip_pretrained: str | None = Field(None, description="open_clip pretrained tag or local checkpoint")
    clip_model_config: Path | None = Field(None, description="JSON config for a custom open_clip model")
    embedder_backend: Literal["auto", "onnx", "torch"] = Field(
        "auto", description="auto|onnx|torch: auto runs a local checkpoint's exported towers under onnxruntime "
        "on the CPU (a fast cold start) and PyTorch otherwise; torch forces PyTorch")
    model_cache_dir: Path | None = Field(
        None, description="where exported ONNX towers are kept (keyed by checkpoint sha256); default home/cache/onnx")
    policy_path: Path | None = Field(None, description="policy TOML; default home/policy.toml (never a silent fallback)")
    cpu_threads: int = Field(
        1,
        ge=1,
        description="torch and FAISS (OpenMP) threads on the CPU. 1 by default: on the 2-vCPU "
        "machines this project is measured on, 2 threads made a StyleWorld generation 83x slower "
        "and a single FAISS query 20x slower (bench/README.md)",
    )
    import_lock_timeout_s: float = Field(
        600.0, ge=0.0, description="how long an import waits for another one on the same home before giving up")
    max_image_pixels: int = Field(40_000_000, ge=1)
    min_image_side: int = Field(8, ge=1, description="smallest width or height of a work or checked image")
    max_image_bytes: int = Field(50 * 1024 * 1024, ge=1)

    # ---- batch scans (`stylegate scan`)
    scan_part_size: int = Field(64, ge=1, description="images per scan part: one embedding batch, one checkpointed Parquet file")
    training_drop_style: bool = Field(
        True, description="do-not-train filtering also drops images in an opted-out artist's style, not only "
        "their registered works and near-duplicates of them")

    # ---- the HTTP service (`stylegate serve`)
    host: str = Field("127.0.0.1", description="address `stylegate serve` listens on")
    port: int = Field(8000, ge=1, le=65535)
    admin_token: SecretStr | None = Field(None, description="bearer token for /v1/admin routes; unset: admin routes off")
    rate_limit_per_minute: int = Field(120, ge=1, description="requests per minute per client on the public API")
    rate_limit_burst: int = Field(30, ge=1, description="requests a client may send at once before the rate applies")
    rate_limit_store: Literal["auto", "memory", "database"] = Field(
        "auto", description="where the service keeps its token buckets: memory (one process), database (the "
        "registry's rate_buckets table, shared by every worker and host), auto: memory for one worker, "
        "database for `stylegate serve --workers N` with N > 1")
    max_request_bytes: int = Field(64 * 1024, ge=1024, description="largest JSON or form body (413 above)")
    max_upload_files: int = Field(20, ge=1, description="most files in one upload")
    secure_cookies: bool = Field(False, description="mark portal cookies Secure (set behind HTTPS)")
    account_rate_limit_per_minute: int = Field(
        2, ge=1, description="sign-ups, sign-ins and confirmation mails per minute per address")
    account_rate_limit_burst: int = Field(10, ge=1, description="sign-ups, sign-ins and confirmation mails at once")
    session_ttl_minutes: int = Field(12 * 60, ge=1, description="how long a portal session lasts after sign-in")
    public_url: str | None = Field(
        None, description="the portal's address as artists reach it, for links in mail; default http://HOST:PORT")
    # ---- contact confirmation mail (off while smtp_host or smtp_from is unset)
    smtp_host: str | None = Field(None, description="SMTP server for confirmation mail; unset: no mail is sent")
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_from: str | None = Field(None, description="the From address of confirmation mail")
    smtp_starttls: bool = Field(False, description="upgrade the SMTP connection with STARTTLS")
    smtp_user: str | None = Field(None, description="SMTP login name (optional)")
    smtp_password: SecretStr | None = Field(None, description="SMTP password (optional)")
    smtp_timeout_s: float = Field(10.0, gt=0, description="seconds to wait for the SMTP server")
    confirm_ttl_minutes: int = Field(24 * 60, ge=1, description="how long a confirmation link stays valid")
    c2pa_cert: Path | None = Field(
        None, description="PEM certificate chain (end entity first) that signs C2PA manifests; default: the workspace's"
    )
    c2pa_key: Path | None = Field(None, description="PEM private key of c2pa_cert (set both or neither)")
    c2pa_alg: str = Field("es256", description="signing algorithm of c2pa_cert's key: es256|es384|es512|ps256|ps384|ps512|ed25519")
    c2pa_tsa_url: str | None = Field(None, description="RFC 3161 time-stamp authority for C2PA signatures (needs network)")
    c2pa_trust_anchors: list[Path] = Field(
        default_factory=list, description="extra PEM trust anchors `check image` accepts (the workspace CA always is)"
    )

    @property
    def max_upload_bytes(self) -> int:
        """Largest multipart body: a full upload of the biggest allowed images."""
        return self.max_image_bytes * self.max_upload_files + self.max_request_bytes

    @property
    def max_check_image_bytes(self) -> int:
        """Largest body of ``POST /v1/check/image``: one image and its multipart framing."""
        return self.max_image_bytes + MULTIPART_OVERHEAD_BYTES

    @property
    def mail_configured(self) -> bool:
        return bool(self.smtp_host and self.smtp_from)

    @property
    def base_url(self) -> str:
        """The portal's own address for links in mail (never taken from a request's Host header)."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'registry.db'}"

    @property
    def audit_target(self) -> str | Path:
        """The audit log's location: a PostgreSQL URL, or the SQLite file."""
        if self.audit_url:
            return self.audit_url if "://" in self.audit_url else Path(self.audit_url).expanduser()
        if self.database_url and self.database_url.split("://", 1)[0] in ("postgresql", "postgres", "postgresql+psycopg"):
            return self.database_url
        return self.home / "audit.db"

    @property
    def audit_sqlite_path(self) -> Path | None:
        """The audit log's SQLite file, or None when it lives in PostgreSQL."""
        target = self.audit_target
        if isinstance(target, Path):
            return target
        return Path(target[len("sqlite:///"):]) if target.startswith("sqlite:///") else None

    @property
    def works_dir(self) -> Path:
        return self.home / "works"

    @property
    def index_path(self) -> Path:
        return self.home / "index" / "style.faiss"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    @property
    def onnx_cache_dir(self) -> Path:
        return self.model_cache_dir or self.cache_dir / "onnx"

    @property
    def home_policy_path(self) -> Path:
        return self.home / "policy.toml"
