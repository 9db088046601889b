"""Task folders written for OpenEvolve and ShinkaEvolve, run unchanged (`task`, with the
in-sandbox `driver` and the trusted `scorer`), recognised and read by `formats`."""
