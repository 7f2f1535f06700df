module github.com/lcnet/lcnet

go 1.26.8
