from stylegate.cli import main

main()
