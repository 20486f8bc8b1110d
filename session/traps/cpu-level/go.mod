module crossmatrix.invalid/trap-cpu-level

go 1.21
