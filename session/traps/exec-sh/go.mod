module crossmatrix.invalid/trap-exec-sh

go 1.21
