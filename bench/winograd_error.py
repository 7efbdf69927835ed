# Why training on wasm uses Winograd F(2x2, 3x3) and not F(4x4, 3x3) (the compiled eval forward does): the f32 error of one
# 3x3 conv (C = 64, O = 8, 2000 random tiles) through each against the f64 direct result, beside the
# f32 direct conv. Cited in engine/backends/wasm/README.md. usage: /usr/bin/python3 bench/winograd_error.py
import numpy as np
rng=np.random.default_rng(0)
def wino(BT,G,AT,m,C=64,O=8,T=2000):
    a=m+2
    d=rng.standard_normal((T,C,a,a))
    g=rng.standard_normal((O,C,3,3))*0.1
    # reference f64 direct
    ref=np.zeros((T,O,m,m))
    for i in range(m):
        for j in range(m):
            ref[:,:,i,j]=np.einsum('tcxy,ocxy->to',d[:,:,i:i+3,j:j+3],g)
    f=np.float32
    d32=d.astype(f); g32=g.astype(f)
    U=np.einsum('ij,ocjk,lk->ocil',G.astype(f),g32,G.astype(f)).astype(f)
    V=np.einsum('ij,tcjk,lk->tcil',BT.astype(f),d32,BT.astype(f)).astype(f)
    M=np.einsum('ocil,tcil->toil',U,V).astype(f)
    Y=np.einsum('ij,tojk,lk->toil',AT.astype(f),M,AT.astype(f)).astype(f)
    # direct in f32
    D=np.zeros((T,O,m,m),dtype=f)
    for i in range(m):
        for j in range(m):
            D[:,:,i,j]=np.einsum('tcxy,ocxy->to',d32[:,:,i:i+3,j:j+3],g32)
    mx=np.abs(ref).max()
    return np.abs(Y-ref).max()/mx, np.abs(D-ref).max()/mx
BT2=np.array([[1,0,-1,0],[0,1,1,0],[0,-1,1,0],[0,1,0,-1]],float)
G2=np.array([[1,0,0],[.5,.5,.5],[.5,-.5,.5],[0,0,1]])
AT2=np.array([[1,1,1,0],[0,1,-1,-1]],float)
BT4=np.array([[4,0,-5,0,1,0],[0,-4,-4,1,1,0],[0,4,-4,-1,1,0],[0,-2,-1,2,1,0],[0,2,-1,-2,1,0],[0,4,0,-5,0,1]],float)
G4=np.array([[1/4,0,0],[-1/6,-1/6,-1/6],[-1/6,1/6,-1/6],[1/24,1/12,1/6],[1/24,-1/12,1/6],[0,0,1]])
AT4=np.array([[1,1,1,1,1,0],[0,1,-1,2,-2,0],[0,1,1,4,4,0],[0,1,-1,8,-8,1]],float)
print('F(2,3) wino, direct f32 rel err:', wino(BT2,G2,AT2,2))
print('F(4,3) wino, direct f32 rel err:', wino(BT4,G4,AT4,4))
# the points 0, 1, -1, 1/2, -2, inf (engine/backends/wasm/kernels/winograd_f4_transforms.ts): 2-3x less error
BT4h=np.array([[1,-1.5,-2,1.5,1,0],[0,-1,.5,2.5,1,0],[0,1,-2.5,.5,1,0],[0,-2,-1,2,1,0],[0,.5,-1,-.5,1,0],[0,1,-1.5,-2,1.5,1]])
G4h=np.array([[1,0,0],[1/3,1/3,1/3],[-1/3,1/3,-1/3],[-16/15,-8/15,-4/15],[1/15,-2/15,4/15],[0,0,1]])
AT4h=np.array([[1,1,1,1,1,0],[0,1,-1,.5,-2,0],[0,1,1,.25,4,0],[0,1,-1,.125,-8,1]])
print('F(4,3) points 0, 1, -1, 1/2, -2: wino, direct f32 rel err:', wino(BT4h,G4h,AT4h,4))
