"""`zoo release`: publish a run as a named artifact."""

import json

import click


@click.command("release")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--name", required=True, help="Artifact name, for example face-embedder-orl.")
@click.option("--part", "parts", required=True, multiple=True,
              help="An exportable part, for example embedder; repeat for several, primary first.")
@click.option("--description", required=True, help="One line shown by `zoo pull --list`.")
@click.option("--license", "license_id", default="apache-2.0", show_default=True, help="License identifier.")
@click.option("--quantize", type=click.Choice(("int8", "float16")), default=None,
              help="Also release an ONNX quantized copy of each part, with the change in the recipe's "
                   "own metric on held-out data in its manifest file entry.")
def release(run_dir, name, parts, description, license_id, quantize):
    """Export the parts of RUN_DIR into artifacts/NAME/ and write its model card."""
    from export.release import release_run
    from recipes.artifact_metrics import artifact_scorer
    from serving.hub import check_artifact_name
    from zoo.errors import ZooError

    try:
        check_artifact_name(name)
        scorer = artifact_scorer(run_dir) if quantize is not None else None
        entry = release_run(
            run_dir, name, list(parts), description, license=license_id, quantize=quantize, score_artifact=scorer
        )
    except (ZooError, FileNotFoundError, ValueError) as error:
        raise click.ClickException(str(error)) from error
    click.echo(json.dumps(entry, indent=2))
