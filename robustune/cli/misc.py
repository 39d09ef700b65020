"""Commands that are not jobs: plugins."""

from __future__ import annotations

from robustune.cli.app import app


@app.command()
def plugins() -> None:
    """List every plugin by kind: name, one-line description, the distribution it comes from."""
    from plugins.registry import registry

    entries = list(registry)
    width = max(len(e.name) for e in entries)
    for kind in registry.kinds():
        print(f"{kind}:")
        for e in (e for e in entries if e.kind == kind):
            print(f"  {e.name:<{width}}  {e.description}  [{e.source}]")
