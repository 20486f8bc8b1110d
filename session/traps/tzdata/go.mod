module crossmatrix.invalid/trap-tzdata

go 1.21
