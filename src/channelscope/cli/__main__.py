from channelscope.cli import main

main()
