"""What the trainer consumes (data modules, ``engine.contracts.DataModule``) and the readers that feed them."""
