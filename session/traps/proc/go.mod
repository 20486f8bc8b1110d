module crossmatrix.invalid/trap-proc

go 1.21
