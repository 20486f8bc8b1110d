module crossmatrix.invalid/trap-user

go 1.21
