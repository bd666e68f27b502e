"""Copy each notebook's main figure from its stored outputs to docs/notebooks/<name>.png.

The main figure is the first image output of the code cell tagged ``readme-figure``. Run
after executing and saving the notebooks: ``python docs/notebooks/extract_figures.py``.
"""

import base64
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
TAG = "readme-figure"


def main() -> None:
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        cells = [c for c in notebook.cells if TAG in c.get("metadata", {}).get("tags", [])]
        images = [
            o["data"]["image/png"]
            for c in cells
            for o in c.get("outputs", [])
            if "image/png" in o.get("data", {})
        ]
        if not images:
            raise SystemExit(f"{path.name}: no stored image in a cell tagged {TAG!r}")
        target = Path(__file__).parent / f"{path.stem}.png"
        target.write_bytes(base64.b64decode(images[0]))
        print(f"{path.relative_to(ROOT)} -> {target.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
