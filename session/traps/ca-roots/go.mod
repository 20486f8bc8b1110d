module crossmatrix.invalid/trap-ca-roots

go 1.21
