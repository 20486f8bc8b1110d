module crossmatrix-timer

go 1.19
