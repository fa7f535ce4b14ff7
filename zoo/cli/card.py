"""`zoo card`: write a model card from a run folder."""

import click

from zoo.cli.arguments import output_file


@click.command("card")
@click.argument("run", type=click.Path(exists=True, file_okay=False))
@click.option("--name", required=True, help="Artifact name, for example face-embedder-orl.")
@click.option(
    "--out",
    default=None,
    callback=output_file((".md",), creates_folder=True),
    help="Card path, a .md file; its folder is created when missing. Default: model_cards/NAME.md below the current folder.",
)
@click.option(
    "--task",
    type=click.Choice(["embedder", "generator", "autoencoder", "translator", "classifier"]),
    default=None,
    help="Task whose text the card uses. Default: inferred from the recipe name and metrics.",
)
@click.option("--license", "license_id", default="apache-2.0", show_default=True, help="License id of the weights.")
def card_command(run, name, out, task, license_id):
    """Write the model card of RUN from its config.json, metrics.json and pictures/."""
    from export.cards import write_card
    from zoo.errors import ZooError

    try:
        path = write_card(run, name, out_path=out, task=task, license=license_id)
    except (ZooError, FileNotFoundError) as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"wrote {path}")
