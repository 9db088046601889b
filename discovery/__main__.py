from discovery.cli import app

app(prog_name="discover")
