"""`zoo pull`: fetch a pretrained artifact by name into the local cache."""

import click


def _format_size(size):
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000.0


def _flatten(metrics, prefix=""):
    rows = []
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            rows.extend(_flatten(value, name + "."))
        else:
            rows.append((name, value))
    return rows


def _format_metrics(metrics):
    parts = []
    for name, value in _flatten(metrics):
        shown = f"{value:.4g}" if isinstance(value, float) else str(value)
        parts.append(f"{name}={shown}")
    return " ".join(parts) or "-"


@click.command("pull")
@click.argument("name", required=False)
@click.option("--list", "list_only", is_flag=True, help="List the artifacts of the manifest and exit.")
@click.option("--mirror", default=None, help="Base URL (http, https, file) or folder to fetch from instead of the manifest's url.")
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Cache root; files go to CACHE_DIR/artifacts/NAME/. Default: $ZOO_HOME, else ~/.cache/beyond-zoo.",
)
@click.option(
    "--manifest",
    default=None,
    help="Path or URL of the manifest. Default: the checkout's artifacts/manifest.json, else $ZOO_MANIFEST_URL.",
)
@click.option("--no-progress", is_flag=True, help="Do not draw the progress line on stderr.")
@click.option(
    "--quantize",
    default=None,
    help="Fetch this variant, for example int8, instead of the float32 files. "
    "`--list` shows each artifact's variants.",
)
def pull_command(name, list_only, mirror, cache_dir, manifest, no_progress, quantize):
    """Fetch the artifact NAME into the cache, check its SHA-256 and print its model path.

    Only the float32 files are fetched, unless --quantize names another
    variant. A cached copy that matches the manifest is used without
    network access. `--list` prints one line per artifact: name, task (with
    each part's task for an artifact of several parts), float32 size,
    headline metrics and variants.
    """
    from serving import hub
    from serving.errors import ServingError

    try:
        if list_only:
            if name:
                raise click.UsageError(f"--list lists every artifact and takes no NAME; received {name!r}.")
            artifacts = hub.read_manifest(manifest, cache_dir=cache_dir).artifacts
            if not artifacts:
                click.echo("The manifest lists no artifacts.")
            for artifact in artifacts.values():
                variants = ",".join(hub.describe_variant(variant) for variant in artifact.variants)
                task = artifact.task
                if len(artifact.part_tasks) > 1:
                    task += " (" + ", ".join(f"{part}: {part_task}" for part, part_task in artifact.part_tasks.items()) + ")"
                click.echo(
                    f"{artifact.name}\t{task}\t{_format_size(artifact.size)}\t"
                    f"{_format_metrics(artifact.metrics)}\t{variants}"
                )
            return
        if not name:
            raise click.UsageError("Pass the NAME of an artifact, or --list to see them.")
        path = hub.pull(
            name, mirror=mirror, cache_dir=cache_dir, progress=not no_progress, manifest=manifest, quantize=quantize
        )
    except ServingError as error:
        raise click.ClickException(str(error)) from error
    except OSError as error:
        # The cache folder cannot be created or written, for example a read-only --cache-dir.
        raise click.ClickException(
            f"Writing the cache failed: {error.strerror}: {error.filename}. Pass a writable --cache-dir or set $ZOO_HOME."
        ) from error
    click.echo(str(path))
