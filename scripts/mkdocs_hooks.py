"""mkdocs hooks: each service's openapi.json joins the site on every build (never committed)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

sys.path.insert(0, str(Path(__file__).resolve().parent))
from docs_pages import openapi_documents, openapi_json


def on_files(files: Files, config: Any) -> Files:
    for name, document in openapi_documents().items():
        path = f"api/{name}.openapi.json"
        files.append(File.generated(config, path, content=openapi_json(document)))
    return files
