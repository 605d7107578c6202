from shiplane.cli import run

run()
