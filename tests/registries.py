"""Maven Central and the npm registry where this machine reaches them; where it does not, writable copies of the
offline caches in ../shared/vendor/ (its README), with `mvn -o` and `npm ci --offline`.

`.ci/run` and the port tests decide here, once: `python3 tests/registries.py DIR` copies what is needed into DIR,
prints the choice on stderr and `NAME=VALUE` lines on stdout for the environment, which the tests then read
instead of deciding again. Standard library only: it runs before the install."""
from __future__ import annotations

import os
import shutil
import sys
import urllib.error
import urllib.request
from pathlib import Path

VENDOR = Path(__file__).resolve().parents[2] / "shared" / "vendor"
MAVEN_CENTRAL = "https://repo.maven.apache.org/maven2/"
NPM_REGISTRY = "https://registry.npmjs.org/"
# the writable copies, when a registry does not answer; empty when it does
MAVEN_REPO_ENV = "COLBERT_MAVEN_REPO"
NPM_CACHE_ENV = "COLBERT_NPM_CACHE"


def reachable(url: str, timeout: float = 10.0) -> bool:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout):
            return True
    except urllib.error.HTTPError:
        return True  # it answered
    except (urllib.error.URLError, OSError):
        return False


def writable_copy(name: str, dest: Path) -> Path:
    """../shared/vendor/<name> copied once to dest (shared/ is read-only, and Maven and npm write to their caches)."""
    source = VENDOR / name
    if not source.is_dir():
        raise SystemExit(f"error: the registry does not answer and there is no offline cache at {source}: "
                         f"put ../shared/vendor beside the repository, or build where the registry answers")
    if not (dest / ".complete").is_file():
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(source, dest)
        for path in [dest, *dest.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)
        (dest / ".complete").write_text("")
    return dest


REGISTRIES = {"maven": (MAVEN_REPO_ENV, MAVEN_CENTRAL, "mvn"), "npm": (NPM_CACHE_ENV, NPM_REGISTRY, "npm ci")}


def offline_cache(name: str, cache: Path) -> str:
    """The writable copy to build from, or "" where the registry answers. Decided once: kept in the environment
    for the rest of the session and for the processes it starts."""
    env, url, _ = REGISTRIES[name]
    if env not in os.environ:
        os.environ[env] = "" if reachable(url) else str(writable_copy(name, cache / name))
    return os.environ[env]


def maven_flags(cache: Path) -> list[str]:
    repo = offline_cache("maven", cache)
    return ["-o", f"-Dmaven.repo.local={repo}"] if repo else []


def npm_flags(cache: Path) -> list[str]:
    npm_cache = offline_cache("npm", cache)
    return ["--offline", "--cache", npm_cache] if npm_cache else []


def main(cache: Path) -> None:
    for name, (env, _, tool) in REGISTRIES.items():
        value = offline_cache(name, cache)
        how = f"offline, from a copy of ../shared/vendor/{name} at {value}" if value else "the registry"
        print(f"{tool}: {how}", file=sys.stderr)
        print(f"{env}={value}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python3 tests/registries.py DIR (where the offline caches' copies go)")
    main(Path(sys.argv[1]))
