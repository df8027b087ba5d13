from cpu_sklearn.experiment import main

main()
