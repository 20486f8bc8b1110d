module crossmatrix.dev/calibrate

go 1.21
