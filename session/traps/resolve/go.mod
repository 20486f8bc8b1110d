module crossmatrix.invalid/trap-resolve

go 1.21
