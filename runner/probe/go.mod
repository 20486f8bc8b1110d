module crossmatrix.invalid/probe

go 1.18
