module crossmatrix.invalid/trap-tmpdir

go 1.21
