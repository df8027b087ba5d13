from gpu_torch.train import main

main()
