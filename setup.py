"""Package declaration for whyops (tool settings live in pyproject.toml)."""

from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).parent
VERSION = {}
exec((ROOT / "whyops" / "_version.py").read_text(), VERSION)

# OTLP: the official protobuf bindings (no OpenTelemetry SDK), for the server's /v1/traces,
# its --otlp-export forwarder and the SDK's exporter="otlp"; imported only when used.
OTLP = ["opentelemetry-proto>=1.27"]
SERVER = ["starlette>=0.40", "uvicorn>=0.30", *OTLP]
OPENAI = ["openai>=1.40"]
ANTHROPIC = ["anthropic>=0.40"]
POSTGRES = ["psycopg[binary,pool]>=3.2"]
DEV = [
    *SERVER,
    *OPENAI,
    *ANTHROPIC,
    *POSTGRES,
    "pytest>=8",
    "pytest-asyncio>=0.24",
    "pytest-xdist>=3.5",
    "hypothesis>=6.100",
    "playwright>=1.45",
    "flask>=3.0",
    "fastapi>=0.110",
    "ruff>=0.6",
    "mypy>=1.11",
    "rust-just>=1.30",
    # real OpenTelemetry producers for the OTLP tests
    "opentelemetry-sdk>=1.27",
    "opentelemetry-exporter-otlp-proto-http>=1.27",
]

setup(
    name="whyops",
    version=VERSION["__version__"],
    description="Tracing for LLM agents: decorators, trace trees, and a self-hosted collector",
    long_description=(ROOT / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10",
    packages=find_packages(include=["whyops", "whyops.*"]),
    package_data={"whyops": ["py.typed", "server/web/*", "pricing/*.csv"]},
    include_package_data=True,
    install_requires=["attrs>=23.1", "cattrs>=23.2", "httpx2>=2.0"],
    extras_require={
        "server": SERVER,
        "openai": OPENAI,
        "anthropic": ANTHROPIC,
        "postgres": POSTGRES,
        "otlp": OTLP,
        "dev": DEV,
    },
    entry_points={
        "console_scripts": ["whyops = whyops.cli:main"],
        "pytest11": ["whyops = whyops.pytest_plugin"],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3.10",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
        "Typing :: Typed",
    ],
)
