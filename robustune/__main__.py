from robustune.cli import main

main()
